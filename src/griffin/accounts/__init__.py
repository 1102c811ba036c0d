"""Projects, users and API tokens: who may do what, where."""
