"""Training jobs and their status history (filled in by the jobs work)."""

from __future__ import annotations
