"""Offline feature store: point-in-time-correct training data computed in DuckDB."""

from .duckdb import point_in_time_join
from .inputs import SqlData, ViewInput

__all__ = ["SqlData", "ViewInput", "point_in_time_join"]
