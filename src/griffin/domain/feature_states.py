"""What is online per feature view: check reports, run records, view states, results.

Plain frozen dataclasses shared by the services, the REST schemas, the SDK and the CLI (the SDK
rebuilds them from JSON with the ``from_json`` constructors, without importing the server).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from griffin.errors import InvalidArgument

__all__ = [
    "CheckFailure",
    "CheckReport",
    "MaterializeResult",
    "PushResult",
    "RunRecord",
    "RunStatus",
    "ViewState",
]

RunStatus = Literal["succeeded", "failed"]
MAX_EXAMPLES = 5


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """One failed data check: which, on which columns, how many rows, a few examples.

    ``examples`` are JSON-able dicts: the failing rows' join keys and checked values (or, for
    ``unique``, the duplicated keys and their count; for ``freshness``, the newest event).
    """

    check: str
    columns: tuple[str, ...]
    failing_rows: int
    total_rows: int
    message: str
    examples: tuple[dict[str, Any], ...] = ()

    def __str__(self) -> str:
        where = ", ".join(self.columns) or "-"
        return f"{self.check}({where}): {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "columns": list(self.columns),
            "failing_rows": self.failing_rows,
            "total_rows": self.total_rows,
            "message": self.message,
            "examples": [dict(e) for e in self.examples],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckFailure:
        return cls(
            check=data["check"],
            columns=tuple(data.get("columns", ())),
            failing_rows=int(data["failing_rows"]),
            total_rows=int(data["total_rows"]),
            message=data.get("message", ""),
            examples=tuple(dict(e) for e in data.get("examples", ())),
        )


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The result of a view's checks on one batch; ``ok`` when none failed."""

    view: str
    rows: int
    checked: tuple[str, ...]
    failures: tuple[CheckFailure, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        """One line per failure, examples included (for error messages and the CLI)."""
        lines = [
            f"{len(self.failures)} of {len(self.checked)} checks failed on {self.rows} rows "
            f"of feature view {self.view!r}:"
        ]
        for failure in self.failures:
            shown = "; ".join(str(e) for e in failure.examples[:MAX_EXAMPLES])
            lines.append(f"  {failure}" + (f" (e.g. {shown})" if shown else ""))
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise ``InvalidArgument`` listing every failed check (details: ``failures``)."""
        if self.ok:
            return
        summary = "; ".join(str(f) for f in self.failures)
        raise InvalidArgument(
            f"feature view {self.view!r}: {len(self.failures)} data check(s) failed, nothing "
            f"was written: {summary}",
            details={
                "view": self.view,
                "rows": self.rows,
                "failures": [f.to_json() for f in self.failures],
            },
        )

    @classmethod
    def from_error_details(cls, details: dict[str, Any]) -> CheckReport | None:
        """The report carried by a failed check's error, or None for other errors."""
        failures = details.get("failures")
        if not isinstance(failures, list) or "view" not in details:
            return None
        parsed = tuple(CheckFailure.from_json(f) for f in failures)
        return cls(str(details["view"]), int(details.get("rows", 0)), (), parsed)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What a materialization run reports to the registry when it ends.

    ``watermark`` is set only by a successful run that leaves no gap before it; the state keeps
    the later of the stored and the reported watermark and freshest event.
    """

    status: RunStatus
    start: datetime | None
    end: datetime
    rows: int = 0
    error: str = ""
    watermark: datetime | None = None
    freshest_event: datetime | None = None
    view_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "rows": self.rows,
            "error": self.error,
            "watermark": _iso(self.watermark),
            "freshest_event": _iso(self.freshest_event),
            "view_version": self.view_version,
        }


@dataclass(frozen=True, slots=True)
class ViewState:
    """What is online for one feature view, as of ``as_of``.

    Attributes:
        watermark: source rows with an event time before it have been materialized;
            incremental runs start here.
        last_run_status: ``succeeded``, ``failed``, or ``""`` when never run.
        freshest_event: the newest event time written online (materialization or push).
        age_s: ``as_of - freshest_event`` in seconds (None when nothing is online).
        max_age_s: the view's ``freshness`` check, if it has one.
        breached: whether the age exceeds ``max_age_s`` (None without a freshness check).
    """

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

    @property
    def age(self) -> timedelta | None:
        return None if self.age_s is None else timedelta(seconds=self.age_s)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ViewState:
        as_of = _time(data["as_of"])
        assert as_of is not None
        return cls(
            project=data["project"],
            view=data["view"],
            online=bool(data["online"]),
            registry_version=data.get("registry_version"),
            view_version=data.get("view_version"),
            watermark=_time(data.get("watermark")),
            last_run_status=data.get("last_run_status", ""),
            last_run_start=_time(data.get("last_run_start")),
            last_run_end=_time(data.get("last_run_end")),
            last_run_rows=int(data.get("last_run_rows", 0)),
            last_run_error=data.get("last_run_error", ""),
            last_run_at=_time(data.get("last_run_at")),
            freshest_event=_time(data.get("freshest_event")),
            last_push_at=_time(data.get("last_push_at")),
            pushed_rows=int(data.get("pushed_rows", 0)),
            updated_at=_time(data.get("updated_at")),
            as_of=as_of,
            age_s=data.get("age_s"),
            max_age_s=data.get("max_age_s"),
            breached=data.get("breached"),
        )


def freshness(
    freshest_event: datetime | None, max_age_s: float | None, as_of: datetime
) -> tuple[float | None, bool | None]:
    """``(age in seconds, breached)``: nothing online breaches a freshness check."""
    age = None if freshest_event is None else (as_of - freshest_event).total_seconds()
    if max_age_s is None:
        return age, None
    return age, age is None or age > max_age_s


@dataclass(frozen=True, slots=True)
class MaterializeResult:
    """One view's materialization: the window, the entities written and how long it took.

    Attributes:
        rows: entities in the window (one latest row each), all sent to the store.
        written: records the store replaced (older or equal ones are kept: re-runs write 0).
        freshest_event: the newest event time among them.
        watermark: the view's watermark after the run.
    """

    view: str
    storage_name: str
    start: datetime | None
    end: datetime
    rows: int
    written: int
    chunks: int
    freshest_event: datetime | None
    watermark: datetime | None
    duration_s: float
    checks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PushResult:
    """One push: rows received, records written online, and the offline log file."""

    project: str
    view: str
    rows: int
    written: int
    offline_path: str
    freshest_event: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PushResult:
        return cls(
            project=data["project"],
            view=data["view"],
            rows=int(data["rows"]),
            written=int(data["written"]),
            offline_path=data["offline_path"],
            freshest_event=_time(data.get("freshest_event")),
        )
