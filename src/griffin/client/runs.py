"""Runs: lifecycle and direct (unbuffered) logging."""

from __future__ import annotations

import numbers
import time
from collections.abc import Iterable, Sequence
from itertools import zip_longest
from typing import Any

from griffin.client import wire
from griffin.client._base import ClientBase, segment, strings
from griffin.client.wire import Point
from griffin.domain.tracking import Metric, Run, RunStatus
from griffin.errors import InvalidArgument

__all__ = ["MetricLike", "RunsMixin", "as_number", "as_step"]

# A metric as accepted by log_batch: a Metric, or a (key, value, step) tuple stamped now.
MetricLike = Metric | tuple[str, float, int]
CHUNK = 1000  # metrics (and params, and tags) per request


def _chunks(items: Sequence[Any], size: int = CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def as_number(key: str, value: object) -> float:
    """A metric value as a float: any real number (numpy and torch scalars too), NaN and
    infinities included; bools and strings are refused rather than silently converted."""
    if not isinstance(value, bool | str | bytes) and hasattr(value, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            pass
    raise InvalidArgument(
        f"metric {key!r} must be a real number, not {type(value).__name__} ({value!r:.40})",
        details={"field": str(key)},
    )


def as_step(key: str, step: object) -> int:
    """A step as an int (numpy integers too); floats and bools are refused."""
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        return int(step)
    raise InvalidArgument(
        f"the step of metric {key!r} must be an integer, not {type(step).__name__}",
        details={"field": str(key)},
    )


def _point(item: MetricLike, now_ms: int) -> Point:
    if isinstance(item, Metric):
        key, value, step, timestamp_ms = item
    else:
        try:
            key, value, step = item
        except (TypeError, ValueError):
            raise InvalidArgument(
                f"a metric must be a Metric or a (key, value, step) tuple, not {item!r:.60}"
            ) from None
        timestamp_ms = now_ms
    # Exact float and int need no conversion; checking that first keeps a 1,000-point batch
    # off the slower general path (numpy scalars, abstract number types) that refuses bools.
    if type(value) is float and type(step) is int:
        return (key, value, step, timestamp_ms)
    return (key, as_number(key, value), as_step(key, step), timestamp_ms)


class RunsMixin(ClientBase):
    def create_run(
        self,
        experiment: str,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Start a RUNNING run; the experiment is created on first use.

        Args:
            experiment: the experiment's name in the client's project.
            name: a display name; a random ``run-xxxxxxxx`` when omitted.
            params: logged with the run; values are converted with ``str()``.
            tags: logged with the run; values are converted with ``str()``.
            parent_run_id: make this a child run of another run of the same project.

        Returns:
            The new run, with its status history.

        Raises:
            Conflict: the experiment is deleted.
            NotFound: the parent run does not exist.
            PermissionDenied: the token cannot edit the project.
        """
        body = {
            "experiment": experiment,
            "name": name,
            "params": strings(params),
            "tags": strings(tags),
            "parent_run_id": parent_run_id,
        }
        return wire.run(self._call("POST", f"{self._project_path()}/runs", json=body))

    def get_run(self, run_id: str) -> Run:
        """Fetch a run with its params, tags, latest metrics and status history.

        Args:
            run_id: the run's id.

        Raises:
            NotFound: no run has this id.
        """
        return wire.run(self._call("GET", f"/runs/{segment(run_id)}"))

    def update_run(
        self,
        run_id: str,
        status: RunStatus | str | None = None,
        reason: str = "",
        name: str | None = None,
    ) -> Run:
        """Rename a run or change its status (each change is kept in its history).

        Args:
            run_id: the run's id.
            status: the new status, e.g. ``"FAILED"``; terminal statuses never change again.
            reason: why the status changed, kept with the history entry.
            name: a new display name.

        Returns:
            The updated run.

        Raises:
            Conflict: the status change is not allowed (the run already ended).
        """
        body = {"status": None if status is None else str(status), "reason": reason, "name": name}
        return wire.run(self._call("PATCH", f"/runs/{segment(run_id)}", json=body))

    def end_run(self, run_id: str, status: RunStatus | str = "FINISHED", reason: str = "") -> Run:
        """End a run (``FINISHED``, ``FAILED`` or ``KILLED``).

        This sends nothing buffered by the fluent API; use ``ActiveRun.end()`` for that.

        Args:
            run_id: the run's id.
            status: the terminal status.
            reason: why, kept in the status history.

        Returns:
            The ended run.
        """
        return self.update_run(run_id, status=status, reason=reason)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run (a running one is KILLED first); its data stays.

        Args:
            run_id: the run's id.

        Raises:
            NotFound: no run has this id.
        """
        self._call("DELETE", f"/runs/{segment(run_id)}")

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[MetricLike] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Log metrics, params and tags now, in requests of at most 1,000 of each.

        Each request is one transaction on the server; a long batch is split, so an error
        part-way leaves the earlier requests applied.

        Args:
            run_id: the run's id.
            metrics: ``Metric`` objects or ``(key, value, step)`` tuples (stamped now).
                Values may be NaN or infinite.
            params: params to log; a param cannot change once logged.
            tags: tags to set; an existing tag is overwritten.

        Raises:
            Conflict: a param is already logged with another value, or the run is deleted.
            InvalidArgument: a key or value is malformed.
        """
        now_ms = time.time_ns() // 1_000_000
        points = [_point(m, now_ms) for m in metrics]
        param_items = list(strings(params).items())
        tag_items = list(strings(tags).items())
        parts = zip_longest(_chunks(points), _chunks(param_items), _chunks(tag_items))
        for chunk, param_chunk, tag_chunk in parts:
            self._post_batch(run_id, chunk or [], dict(param_chunk or {}), dict(tag_chunk or {}))

    def _post_batch(
        self, run_id: str, points: Sequence[Point], params: dict[str, str], tags: dict[str, str]
    ) -> None:
        body: dict[str, Any] = {"metrics": wire.encode_points(points)}
        if params:
            body["params"] = params
        if tags:
            body["tags"] = tags
        # Not idempotent: a repeated batch would append its metric points twice.
        self._call("POST", f"/runs/{segment(run_id)}/batch", json=body, idempotent=False)

    def log_metric(
        self, run_id: str, key: str, value: float, step: int = 0, timestamp_ms: int | None = None
    ) -> None:
        """Log one metric point now (one request; the fluent API buffers instead).

        Args:
            run_id: the run's id.
            key: the metric's name, e.g. ``"train/loss"``.
            value: a real number; NaN and infinities are kept.
            step: the training step.
            timestamp_ms: milliseconds since the epoch; now when omitted.
        """
        now_ms = time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms
        self._post_batch(run_id, [_point((key, value, step), now_ms)], {}, {})

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log one param now.

        Args:
            run_id: the run's id.
            key: the param's name.
            value: its value, converted with ``str()``.

        Raises:
            Conflict: the param is already logged with another value.
        """
        self.log_batch(run_id, params={key: value})

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Log several params at once (one request per 1,000).

        Args:
            run_id: the run's id.
            params: names and values; values are converted with ``str()``.

        Raises:
            Conflict: a param is already logged with another value.
        """
        self.log_batch(run_id, params=params)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set one tag, overwriting any previous value.

        Args:
            run_id: the run's id.
            key: the tag's name.
            value: its value, converted with ``str()``.
        """
        self.log_batch(run_id, tags={key: value})

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        """Set several tags at once, overwriting previous values.

        Args:
            run_id: the run's id.
            tags: names and values; values are converted with ``str()``.
        """
        self.log_batch(run_id, tags=tags)

    def heartbeat(self, run_id: str) -> None:
        """Tell the server the run's process is alive (the fluent API does this for you).

        A RUNNING run silent for ``heartbeat_timeout_s`` is marked FAILED by the server (or,
        with the embedded store, by the next client that opens it).

        Args:
            run_id: the run's id.
        """
        self._call("POST", f"/runs/{segment(run_id)}/heartbeat", idempotent=True)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point logged for one metric of a run, in step order.

        Args:
            run_id: the run's id.
            key: the metric's name.

        Returns:
            The points, ordered by step, then time.
        """
        data = self._call("GET", f"/runs/{segment(run_id)}/metric-history", params={"key": key})
        return [wire.metric(p) for p in data["points"]]
