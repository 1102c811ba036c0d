"""The ``griffin`` command line: one module per noun, the Typer root in :mod:`griffin.cli.main`."""
