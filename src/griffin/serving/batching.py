"""Adaptive micro-batching: concurrent requests to one model version share one ``predict``.

The batcher never makes a lone request wait. A request that finds the model idle is predicted
at once; requests that arrive while a batch is being predicted queue up and go together in
the next one (up to ``max_batch_size`` rows). So at low load a request costs one ``predict``
of its own rows, and as load grows batches grow with it and throughput follows, the latency
of each request staying about two ``predict`` calls. When the last batch held more than one
request (the sign of concurrent load), the batcher also lingers up to ``max_latency_ms`` for
the batch to fill before predicting.

``predict`` runs in one worker thread per batcher (a model object need not be thread-safe),
off the event loop, with one exception: a request that finds the model idle, for a model
whose ``predict`` typically takes under ``INLINE_UNDER_S``, with no other request arriving
beside it (it yields to the event loop once to see), is predicted on the event loop itself:
the hop to the thread and back costs more than such a predict. Under load requests arrive
together, and they batch as above. Rows are pandas DataFrames; a batch is their
concatenation, and each request gets back its own slice of the predictions, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BatchStats", "Batcher"]

Predict = Callable[[pd.DataFrame], Any]

# A lone request to an idle model is predicted on the event loop when the model's predict
# typically takes less than this (measured, smoothed): longer would hold up other requests.
INLINE_UNDER_S = 0.002


@dataclass
class BatchStats:
    """What a batcher did: how many batches, requests and rows, and the largest batch."""

    batches: int = 0
    requests: int = 0
    rows: int = 0
    largest: int = 0

    def add(self, requests: int, rows: int) -> None:
        self.batches += 1
        self.requests += requests
        self.rows += rows
        self.largest = max(self.largest, rows)


@dataclass
class _Pending:
    rows: pd.DataFrame
    future: asyncio.Future[np.ndarray[Any, Any]]


class Batcher:
    """Batches ``predict(frame)`` calls for one model version on the running event loop.

    Args:
        predict: the model's predict; called with a DataFrame, returns one prediction per
            row (a sequence, array or DataFrame).
        max_batch_size: the most rows in one call (a single larger request goes alone).
        max_latency_ms: how long a batch may wait to fill while the model is under
            concurrent load; 0 never waits.
        name: for the worker thread's name.
    """

    def __init__(
        self,
        predict: Predict,
        *,
        max_batch_size: int = 32,
        max_latency_ms: float = 2.0,
        name: str = "model",
    ) -> None:
        self.predict_fn = predict
        self.max_batch_size = max(1, max_batch_size)
        self.max_latency_s = max(0.0, max_latency_ms) / 1000.0
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"griffin-predict-{name}")
        self._last_batch_requests = 0
        self._in_flight: list[_Pending] = []
        self._busy = False  # the worker holds a batch (filling it or predicting it)
        self._arrivals = 0  # requests inside predict() now
        self._typical_s: float | None = None  # smoothed duration of one predict call
        self._closed = False

    async def predict(self, rows: pd.DataFrame) -> np.ndarray[Any, Any]:
        """This request's predictions, one per row, predicted with whatever else is waiting."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        self._arrivals += 1
        try:
            if self._inline_now(rows):
                # Let the requests that arrived with this one reach here first: if any did,
                # this is load, and they batch together instead.
                await asyncio.sleep(0)
                if self._arrivals == 1 and self._inline_now(rows):
                    started = time.perf_counter()
                    values = _as_array(self.predict_fn(rows), len(rows))
                    self._observe(time.perf_counter() - started)
                    self.stats.add(1, len(rows))
                    self._last_batch_requests = 1
                    return values
            return await self._queued(rows)
        finally:
            self._arrivals -= 1

    async def _queued(self, rows: pd.DataFrame) -> np.ndarray[Any, Any]:
        if self._closed:  # closed while this request yielded
            raise RuntimeError("the batcher is closed")
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(), name="griffin-batcher")
        pending = _Pending(rows, loop.create_future())
        self._queue.put_nowait(pending)
        return await pending.future

    def _inline_now(self, rows: pd.DataFrame) -> bool:
        """Whether to predict ``rows`` on the event loop: the model is idle (nothing queued,
        no batch held) and known to be quick."""
        return (
            self._typical_s is not None
            and self._typical_s < INLINE_UNDER_S
            and not self._busy
            and (self._queue is None or self._queue.empty())
            and len(rows) <= self.max_batch_size
        )

    def _observe(self, seconds: float) -> None:
        typical = self._typical_s
        self._typical_s = seconds if typical is None else 0.8 * typical + 0.2 * seconds

    def _timed(self, frame: pd.DataFrame) -> tuple[Any, float]:
        started = time.perf_counter()
        output = self.predict_fn(frame)
        return output, time.perf_counter() - started

    async def close(self) -> None:
        """Stop now: requests queued or being predicted get an error (a hot swap closes a
        version's batcher only once no request is routed to it)."""
        self._closed = True
        left = list(self._in_flight)  # before the worker's cancellation clears it
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._queue is not None:
            while not self._queue.empty():
                left.append(self._queue.get_nowait())
        for waiting in left:
            if not waiting.future.done():
                waiting.future.set_exception(RuntimeError("the model was unloaded"))
        self._executor.shutdown(wait=False)

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            self._busy = False
            batch = [await queue.get()]
            self._busy = True
            rows = len(batch[0].rows)
            deadline = time.monotonic() + self.max_latency_s
            while rows < self.max_batch_size:
                if not queue.empty():
                    nxt = queue.get_nowait()
                elif self._last_batch_requests > 1 and self.max_latency_s > 0:
                    # Under concurrent load: give the batch a moment to fill.
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        nxt = await asyncio.wait_for(queue.get(), left)
                    except TimeoutError:
                        break
                else:
                    break
                if rows + len(nxt.rows) > self.max_batch_size:
                    # It does not fit: predict what is in hand; it starts the next batch.
                    await self._predict_batch(loop, batch, rows)
                    batch, rows = [nxt], len(nxt.rows)
                    deadline = time.monotonic() + self.max_latency_s
                    continue
                batch.append(nxt)
                rows += len(nxt.rows)
            await self._predict_batch(loop, batch, rows)

    async def _predict_batch(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Pending], rows: int
    ) -> None:
        live = [p for p in batch if not p.future.done()]  # a caller may have given up
        self._last_batch_requests = len(batch)
        if not live:
            return
        frame = (
            live[0].rows if len(live) == 1 else pd.concat([p.rows for p in live], ignore_index=True)
        )
        self._in_flight = live
        try:
            output, seconds = await loop.run_in_executor(self._executor, self._timed, frame)
            self._observe(seconds)
            values = _as_array(output, len(frame))
        except Exception as exc:
            for pending in live:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        finally:
            self._in_flight = []
        self.stats.add(len(live), len(frame))
        start = 0
        for pending in live:
            end = start + len(pending.rows)
            if not pending.future.done():
                pending.future.set_result(values[start:end])
            start = end


def _as_array(output: Any, rows: int) -> np.ndarray[Any, Any]:
    """Predictions as an array with one entry per row, whatever the model returned."""
    values: np.ndarray[Any, Any]
    if isinstance(output, pd.DataFrame):
        values = output.to_numpy()
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
    elif isinstance(output, pd.Series):
        values = output.to_numpy()
    else:
        values = np.asarray(output)
    if values.ndim == 0 or len(values) != rows:
        raise ValueError(
            f"the model returned {0 if values.ndim == 0 else len(values)} predictions for "
            f"{rows} rows"
        )
    return values
