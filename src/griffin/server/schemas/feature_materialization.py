"""Wire format of materialization state and push: view states, run records, pushed columns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from griffin.domain.feature_states import RunRecord
from griffin.server.schemas.tracking import Wire

__all__ = ["PushIn", "PushResultOut", "RunRecordIn", "ViewStateOut", "ViewStatesOut"]

MAX_PUSH_COLUMNS = 1_000


class ViewStateOut(Wire):
    project: str
    view: str
    online: bool
    registry_version: int | None
    view_version: int | None
    watermark: datetime | None
    last_run_status: str
    last_run_start: datetime | None
    last_run_end: datetime | None
    last_run_rows: int
    last_run_error: str
    last_run_at: datetime | None
    freshest_event: datetime | None
    last_push_at: datetime | None
    pushed_rows: int
    updated_at: datetime | None
    as_of: datetime
    age_s: float | None
    max_age_s: float | None
    breached: bool | None


class ViewStatesOut(Wire):
    items: list[ViewStateOut]


class RunRecordIn(Wire):
    """A finished materialization run, as the SDK reports it."""

    status: Literal["succeeded", "failed"]
    start: datetime | None = None
    end: datetime
    rows: Annotated[int, Field(ge=0)] = 0
    error: Annotated[str, StringConstraints(max_length=100_000)] = ""
    watermark: datetime | None = None
    freshest_event: datetime | None = None
    view_version: Annotated[int, Field(ge=1)] | None = None

    def to_domain(self) -> RunRecord:
        return RunRecord(
            status=self.status,
            start=self.start,
            end=self.end,
            rows=self.rows,
            error=self.error,
            watermark=self.watermark,
            freshest_event=self.freshest_event,
            view_version=self.view_version,
        )


class PushIn(Wire):
    """Rows to push, by column: ``{"columns": {"driver_id": [1, 2], "trips": [3, 4]}}``.

    Timestamps are ISO 8601 strings (naive ones are UTC) or integers of epoch microseconds;
    non-finite floats are the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; bytes are
    base64 strings.
    """

    columns: Annotated[dict[str, list[Any]], Field(max_length=MAX_PUSH_COLUMNS)]


class PushResultOut(Wire):
    project: str
    view: str
    rows: int
    written: int
    offline_path: str
    freshest_event: datetime | None
