"""Griffin: a self-hostable machine-learning platform."""

from griffin._version import __version__

__all__ = ["__version__"]
