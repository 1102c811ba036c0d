"""The metric flusher in isolation: retries, kept errors, backpressure, heartbeats."""

from __future__ import annotations

import threading
import time

import pytest

import griffin
from griffin.client import flusher as flusher_module
from griffin.client.flusher import Flusher
from griffin.client.wire import Point


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flusher_module, "_FIRST_BACKOFF_S", 0.01)
    monkeypatch.setattr(flusher_module, "_MAX_BACKOFF_S", 0.02)


class FakeServer:
    """Records batches; fails the first ``transient`` sends, or every send with ``permanent``."""

    def __init__(self, transient: int = 0, permanent: griffin.GriffinError | None = None) -> None:
        self.transient = transient
        self.permanent = permanent
        self.batches: list[list[Point]] = []
        self.heartbeats: list[str] = []
        self.delay = 0.0

    def send(self, run_id: str, points: list[Point]) -> None:
        time.sleep(self.delay)
        if self.transient > 0:
            self.transient -= 1
            raise griffin.BackendUnavailable("server restarting")
        if self.permanent is not None:
            raise self.permanent
        self.batches.append(points)

    def heartbeat(self, run_id: str) -> None:
        self.heartbeats.append(run_id)

    @property
    def points(self) -> list[Point]:
        return [p for batch in self.batches for p in batch]


def make(server: FakeServer, interval: float = 60.0, heartbeat_every: float = 60.0) -> Flusher:
    return Flusher(
        server.send, server.heartbeat, interval=interval, heartbeat_every=heartbeat_every
    )


def points(n: int, key: str = "x") -> list[Point]:
    return [(key, float(i), i, 1_000 + i) for i in range(n)]


def test_flush_sends_everything_in_batches_of_a_thousand() -> None:
    server = FakeServer()
    flusher = make(server)
    buffer = flusher.register("r1")
    buffer.points.extend(points(2_500))
    flusher.flush(buffer)
    assert [len(b) for b in server.batches] == [1_000, 1_000, 500]
    assert server.points == points(2_500)
    assert buffer.idle
    flusher.close()


def test_a_full_batch_is_sent_without_waiting_for_the_interval() -> None:
    server = FakeServer()
    flusher = make(server, interval=60.0)
    buffer = flusher.register("r1")
    buffer.points.extend(points(1_000))
    flusher.nudge(buffer)
    deadline = time.monotonic() + 5
    while not server.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(server.points) == 1_000
    flusher.close()


def test_transient_failures_are_retried_until_they_pass() -> None:
    server = FakeServer(transient=3)
    flusher = make(server)
    buffer = flusher.register("r1")
    buffer.points.extend(points(10))
    flusher.flush(buffer)
    assert server.points == points(10)  # sent once, in order, nothing lost
    flusher.close()


def test_an_unreachable_server_makes_flush_raise_but_keeps_the_points() -> None:
    server = FakeServer(transient=10**9)
    flusher = make(server)
    buffer = flusher.register("r1")
    buffer.points.extend(points(5))
    with pytest.raises(griffin.BackendUnavailable, match=r"5 metric point.*still retrying"):
        flusher.flush(buffer, retry_window_s=0.3)
    server.transient = 0
    flusher.flush(buffer)
    assert server.points == points(5)
    flusher.close()


def test_permanent_errors_are_raised_once_from_the_next_flush() -> None:
    server = FakeServer(permanent=griffin.Conflict("run r1 is deleted", details={"run_id": "r1"}))
    flusher = make(server)
    buffer = flusher.register("r1")
    buffer.points.extend(points(1_200))
    with pytest.raises(griffin.Conflict, match=r"1200 metric point\(s\) of run r1") as caught:
        flusher.flush(buffer)
    assert "run r1 is deleted" in caught.value.message
    assert caught.value.details == {"run_id": "r1"}
    flusher.flush(buffer)  # reported once
    flusher.close()


def test_a_full_buffer_blocks_the_logger_instead_of_dropping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(flusher_module, "MAX_BUFFERED", 50)
    monkeypatch.setattr(flusher_module, "BATCH_SIZE", 10)
    server = FakeServer()
    server.delay = 0.002
    flusher = make(server)
    buffer = flusher.register("r1")
    peak = 0
    for point in points(500):
        buffer.points.append(point)
        flusher.nudge(buffer)
        peak = max(peak, len(buffer.points))
    flusher.flush(buffer)
    assert peak <= 50
    assert server.points == points(500)
    flusher.close()


def test_silent_runs_get_heartbeats() -> None:
    server = FakeServer()
    flusher = make(server, interval=0.05, heartbeat_every=0.05)
    flusher.register("quiet")
    time.sleep(0.4)
    flusher.close()
    assert server.heartbeats.count("quiet") >= 2


def test_close_sends_what_is_left_and_refuses_new_runs() -> None:
    server = FakeServer()
    flusher = make(server)
    buffer = flusher.register("r1")
    buffer.points.extend(points(3))
    flusher.close()
    assert server.points == points(3)
    with pytest.raises(griffin.GriffinError, match="closed"):
        flusher.register("r2")


def test_concurrent_loggers_lose_nothing() -> None:
    server = FakeServer()
    flusher = make(server, interval=0.01)
    buffers = [flusher.register(f"r{n}") for n in range(4)]

    def log(n: int) -> None:
        for point in points(5_000, key=f"k{n}"):
            buffers[n].points.append(point)
            if len(buffers[n].points) >= 1_000:
                flusher.nudge(buffers[n])

    threads = [threading.Thread(target=log, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for buffer in buffers:
        flusher.flush(buffer)
    flusher.close()
    for n in range(4):
        assert [p for p in server.points if p[0] == f"k{n}"] == points(5_000, key=f"k{n}")


def test_flush_after_close_says_what_is_stranded() -> None:
    server = FakeServer()
    flusher = make(server)
    buffer = flusher.register("r1")
    flusher.close()
    buffer.points.extend(points(2))  # logged after the client closed
    with pytest.raises(griffin.GriffinError, match=r"2 metric point\(s\) .* client is closed"):
        flusher.flush(buffer)
