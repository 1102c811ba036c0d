"""The metadata store: tables, the session helper, migrations, one query module per noun."""
