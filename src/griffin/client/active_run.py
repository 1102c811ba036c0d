"""A run being tracked by this process, and the process-wide stack of open runs.

``ActiveRun.log_metric`` is the SDK's hot path: it validates a key once, appends a tuple to the
run's buffer and returns; the client's flusher thread does the sending (``flusher.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from griffin.client.flusher import BATCH_SIZE, RunBuffer
from griffin.client.runs import as_number, as_step
from griffin.domain.tracking import Artifact, Run, RunStatus
from griffin.domain.validation import check_key
from griffin.errors import Conflict, GriffinError

if TYPE_CHECKING:
    from griffin.client import Client

__all__ = ["ActiveRun", "failed_status", "lock", "stack", "summary"]

log = logging.getLogger(__name__)

# Open runs, innermost last; shared by every thread of the process (a run started in the main
# thread is the active run of its data-loader threads too).
stack: list[ActiveRun] = []
lock = threading.RLock()


class ActiveRun:
    """A run being tracked by this process; returned by :func:`start_run`.

    Use it as a context manager (an exception inside marks the run FAILED with the
    exception's one-line summary; a normal exit, FINISHED) or call :meth:`end` yourself.
    """

    def __init__(self, client: Client, run: Run) -> None:
        self.client = client
        self.id = run.id
        self._flusher = client._flusher
        self._buffer: RunBuffer = self._flusher.register(run.id)
        self._points = self._buffer.points
        self._steps: dict[str, int] = {}
        self._keys: set[str] = set()
        self._open = True
        client._before_close[run.id] = self._end_on_close

    def _end_on_close(self) -> None:
        self.end(RunStatus.FINISHED, "its client was closed")

    @property
    def run(self) -> Run:
        """The run as the server has it now (metrics still buffered are not in it)."""
        return self.client.get_run(self.id)

    @property
    def is_open(self) -> bool:
        return self._open

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Buffer one metric point; the flusher thread sends it shortly.

        Args:
            key: the metric's name, e.g. ``"train/loss"``.
            value: a real number (NaN and infinities are kept); bools and strings are refused.
            step: the training step; when omitted, one more than this key's previous step
                (starting at 0).

        Raises:
            InvalidArgument: the key is malformed or the value is not a real number.
            Conflict: the run has ended.
        """
        # The hot path: one tuple appended to a deque, no lock, no I/O.
        if key not in self._keys:
            self._new_key(key)
        if type(value) is not float:
            value = as_number(key, value)
        if step is None:
            step = self._steps.get(key, 0)
        elif type(step) is not int:
            step = as_step(key, step)
        self._steps[key] = step + 1
        points = self._points
        points.append((key, value, step, time.time_ns() // 1_000_000))
        if len(points) >= BATCH_SIZE:
            self._flusher.nudge(self._buffer)

    def _new_key(self, key: str) -> None:
        if not self._open:
            raise Conflict(f"run {self.id} has ended; start a new run to log more")
        check_key(key, field="metric key")  # fail at the call, not later in the flusher
        self._keys.add(key)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Buffer several metric points at the same step.

        Args:
            metrics: names and values (see :meth:`log_metric` for what a value may be).
            step: the step of all of them; when omitted, each key continues its own count.
        """
        for key, value in metrics.items():
            self.log_metric(key, value, step)

    def log_param(self, key: str, value: Any) -> None:
        """Log a param now (params are few, and a conflict must raise here).

        Args:
            key: the param's name.
            value: its value, converted with ``str()``.

        Raises:
            Conflict: the param is already logged with another value.
        """
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log several params now.

        Args:
            params: names and values; values are converted with ``str()``.

        Raises:
            Conflict: a param is already logged with another value.
        """
        self._check_open()
        self.client.log_batch(self.id, params=dict(params))

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag now, overwriting any previous value.

        Args:
            key: the tag's name.
            value: its value, converted with ``str()``.
        """
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set several tags now, overwriting previous values.

        Args:
            tags: names and values; values are converted with ``str()``.
        """
        self._check_open()
        self.client.log_batch(self.id, tags=dict(tags))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> list[Artifact]:
        """Upload a file, or every file under a directory, to the run now.

        Args:
            path: a file, or a directory whose files keep their relative paths.
            artifact_path: a folder under the run's artifacts to put them in.

        Returns:
            One ``Artifact`` per uploaded file (see ``Client.log_artifact``).
        """
        self._check_open()
        return self.client.log_artifact(self.id, path, artifact_path)

    def flush(self) -> None:
        """Block until every metric point buffered for this run is sent.

        Raises:
            GriffinError: the server refused some points (the run was ended elsewhere, the
                token lost its rights...); raised once, then cleared.
            BackendUnavailable: the server stayed unreachable for a minute; the points stay
                buffered and are still retried.
        """
        self._flusher.flush(self._buffer)

    def end(self, status: RunStatus | str = RunStatus.FINISHED, reason: str = "") -> None:
        """Send what is buffered, then end the run (idempotent).

        Args:
            status: ``FINISHED``, ``FAILED`` or ``KILLED``.
            reason: why, kept in the run's status history.

        Raises:
            GriffinError: points could not be sent (the run is ended anyway), or the status
                change was refused.
        """
        with lock:
            if not self._open:
                return
            self._open = False
            self._keys.clear()  # the next log_metric takes the slow path, which raises
            if self in stack:
                stack.remove(self)
            self.client._before_close.pop(self.id, None)
        flush_error: GriffinError | None = None
        try:
            self._flusher.flush(self._buffer)
        except GriffinError as exc:
            flush_error = exc
        finally:
            self._flusher.unregister(self._buffer)
        self.client.update_run(self.id, status=status, reason=reason)
        if flush_error is not None:
            raise flush_error

    def _check_open(self) -> None:
        if not self._open:
            raise Conflict(f"run {self.id} has ended; start a new run to log more")

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end(RunStatus.FINISHED)
            return
        try:
            self.end(failed_status(exc), summary(exc))
        except GriffinError as end_error:  # the user's exception matters more: keep it
            log.warning("griffin: could not end run %s: %s", self.id, end_error)

    def __repr__(self) -> str:
        state = "open" if self._open else "ended"
        return f"<ActiveRun {self.id} ({state}) at {self.client.where}>"


def summary(exc: BaseException) -> str:
    """``"ValueError: bad shape"``: the exception's one-line headline, for a status reason."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line[:1000]


def failed_status(exc: BaseException) -> RunStatus:
    return RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
