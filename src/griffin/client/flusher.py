"""The background thread that sends buffered metric points and run heartbeats.

``ActiveRun.log_metric`` only appends a tuple to its run's :class:`RunBuffer` (a deque: appends
are atomic under the GIL, so the hot path takes no lock). One daemon thread per client drains
every buffer in batches: each ``interval`` seconds, or at once when a buffer holds a full batch.
It is the only sender of metrics, so batches of a run never race each other.

Nothing is dropped silently: a transient failure (server or database unreachable) is retried
with backoff for as long as the process lives, and a full buffer makes ``log_metric`` wait
(backpressure); a permanent refusal (a 4xx: the run was ended or deleted elsewhere, the token
lost its rights) is kept and raised from the run's next ``flush()`` or ``end()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from griffin.client.wire import Point
from griffin.errors import BackendUnavailable, GriffinError

__all__ = ["BATCH_SIZE", "MAX_BUFFERED", "Flusher", "RunBuffer"]

log = logging.getLogger(__name__)

BATCH_SIZE = 1_000  # points per request, and the backlog that wakes the flusher early
MAX_BUFFERED = 1_000_000  # per run; beyond it log_metric blocks until the flusher catches up
_FIRST_BACKOFF_S = 0.2
_MAX_BACKOFF_S = 10.0


class RunBuffer:
    """Metric points of one open run waiting to be sent, and what went wrong sending them."""

    __slots__ = ("dropped", "error", "in_flight", "last_sent", "points", "run_id", "transient")

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.points: deque[Point] = deque()
        self.in_flight = 0  # points taken from `points` whose request has not yet succeeded
        self.error: GriffinError | None = None  # first permanent failure, until raised
        self.dropped = 0  # points lost to permanent failures, reported with `error`
        self.transient: BackendUnavailable | None = None  # set while a batch is being retried
        self.last_sent = time.monotonic()

    @property
    def idle(self) -> bool:
        return not self.points and not self.in_flight


class Flusher:
    """Drains :class:`RunBuffer` s in a daemon thread, started on the first registered run.

    Args:
        send: posts one batch of points for a run (``Client._send_points``).
        heartbeat: tells the server a run's process is alive.
        interval: seconds between regular flushes (``metric_flush_interval_s``).
        heartbeat_every: seconds of silence after which a run gets a heartbeat.
    """

    def __init__(
        self,
        send: Callable[[str, list[Point]], None],
        heartbeat: Callable[[str], None],
        *,
        interval: float,
        heartbeat_every: float,
    ) -> None:
        self._send = send
        self._heartbeat = heartbeat
        self.interval = interval
        self.heartbeat_every = heartbeat_every
        self._buffers: dict[str, RunBuffer] = {}
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, run_id: str) -> RunBuffer:
        """A new buffer for ``run_id``, drained from now on."""
        buffer = RunBuffer(run_id)
        with self._lock:
            if self._stop.is_set():
                raise GriffinError("this Griffin client is closed; open a new one")
            self._buffers[run_id] = buffer
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="griffin-metric-flusher", daemon=True
                )
                self._thread.start()
        return buffer

    def unregister(self, buffer: RunBuffer) -> None:
        with self._lock:
            self._buffers.pop(buffer.run_id, None)

    def nudge(self, buffer: RunBuffer) -> None:
        """Called by ``log_metric`` once a batch is pending: wake the thread, or wait for room."""
        if not self._wake.is_set():
            self._wake.set()
        if len(buffer.points) >= MAX_BUFFERED:
            with self._progress:
                while len(buffer.points) >= MAX_BUFFERED and not self._stop.is_set():
                    self._wake.set()
                    self._progress.wait(0.5)

    def flush(self, buffer: RunBuffer, retry_window_s: float = 60.0) -> None:
        """Block until every point of ``buffer`` is sent; raise what could not be.

        Raises:
            GriffinError: the permanent error that made the flusher drop points (once).
            BackendUnavailable: the server stayed unreachable for ``retry_window_s``; the
                points stay buffered and are still retried.
        """
        self._wake.set()
        deadline: float | None = None
        with self._progress:
            # Wait for idle even after an error, so the count raised covers every lost point.
            while not buffer.idle:
                if self._thread is None or not self._thread.is_alive():
                    raise GriffinError(
                        f"{len(buffer.points) + buffer.in_flight} metric point(s) of run "
                        f"{buffer.run_id} cannot be sent: this Griffin client is closed"
                    )
                self._progress.wait(0.25)
                if buffer.transient is None:
                    deadline = None
                elif deadline is None:
                    deadline = time.monotonic() + retry_window_s
                elif time.monotonic() > deadline:
                    raise BackendUnavailable(
                        f"{len(buffer.points) + buffer.in_flight} metric point(s) of run "
                        f"{buffer.run_id} are not sent yet (still retrying): "
                        f"{buffer.transient.message}"
                    )
            error, dropped = buffer.error, buffer.dropped
            buffer.error, buffer.dropped = None, 0
        if error is not None:
            raise type(error)(
                f"{dropped} metric point(s) of run {buffer.run_id} were not saved: {error.message}",
                details=error.details,
            )

    def close(self) -> None:
        """Stop the thread after one last drain; buffers still holding points are logged."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=30)
        with self._lock:
            left = {b.run_id: len(b.points) + b.in_flight for b in self._buffers.values()}
        for run_id, count in left.items():
            if count:
                log.warning("griffin: %d metric point(s) of run %s were not sent", count, run_id)

    def _loop(self) -> None:
        while True:
            self._wake.wait(timeout=min(self.interval, self.heartbeat_every))
            self._wake.clear()
            stopping = self._stop.is_set()
            try:
                self._drain_all()
                self._send_heartbeats()
            except Exception:  # never let the thread die: flush() would wait forever
                log.exception("griffin metric flusher failed; retrying")
            if stopping:
                return

    def _drain_all(self) -> None:
        with self._lock:
            buffers = list(self._buffers.values())
        for buffer in buffers:
            while buffer.points:
                with self._progress:
                    count = min(len(buffer.points), BATCH_SIZE)
                    popleft = buffer.points.popleft
                    chunk = [popleft() for _ in range(count)]
                    buffer.in_flight = count
                self._send_chunk(buffer, chunk)
                with self._progress:
                    buffer.in_flight = 0
                    self._progress.notify_all()

    def _send_chunk(self, buffer: RunBuffer, chunk: list[Point]) -> None:
        delay = _FIRST_BACKOFF_S
        while True:
            try:
                self._send(buffer.run_id, chunk)
            except BackendUnavailable as exc:
                with self._progress:
                    buffer.transient = exc
                    self._progress.notify_all()
                if self._stop.wait(delay):
                    self._keep_error(buffer, exc, len(chunk))
                    return
                delay = min(delay * 2, _MAX_BACKOFF_S)
                continue
            except GriffinError as exc:
                self._keep_error(buffer, exc, len(chunk))
                return
            except Exception as exc:
                # An unexpected failure (a bug, an encoding error) is still reported, not lost.
                self._keep_error(buffer, GriffinError(f"{type(exc).__name__}: {exc}"), len(chunk))
                return
            buffer.transient = None
            buffer.last_sent = time.monotonic()
            return

    def _keep_error(self, buffer: RunBuffer, error: GriffinError, count: int) -> None:
        log.warning("griffin: could not send metrics of run %s: %s", buffer.run_id, error)
        with self._progress:
            buffer.error = buffer.error or error
            buffer.dropped += count
            buffer.transient = None
            self._progress.notify_all()

    def _send_heartbeats(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [b for b in self._buffers.values() if now - b.last_sent >= self.heartbeat_every]
        for buffer in due:
            try:
                self._heartbeat(buffer.run_id)
            except GriffinError as exc:
                log.warning("griffin: heartbeat of run %s failed: %s", buffer.run_id, exc)
            buffer.last_sent = time.monotonic()
