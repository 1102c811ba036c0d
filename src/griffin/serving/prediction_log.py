"""The prediction log: every prediction a server made, appended to parquet off the hot path.

A request only adds a reference to what it already holds (its rows, the model's inputs, the
predictions) to an in-memory buffer; a background task turns the buffer into one parquet file
per deployment every ``flush_s`` seconds (or sooner when ``flush_rows`` rows wait), in a
worker thread. The files go under
``<offline_root>/predictions/<project>/<deployment>/date=YYYY-MM-DD/``, one row per predicted
row:

========== ==========================================================================
column      meaning
========== ==========================================================================
request_id  the id the answer carried
at          when the request was answered (UTC, microseconds)
deployment  the deployment's name
model       the registered model
version     the version that predicted
role        ``traffic`` (the answer sent) or ``shadow`` (logged only)
row         the row's position in its request
request     the row as sent (entity keys, request fields), JSON
inputs      the model's input for the row (the features read included), JSON
prediction  the prediction, JSON
latency_ms  the request's time to its answer (for a shadow, its own predict)
========== ==========================================================================

Join it with labels later by the entity keys in ``request`` (DuckDB: ``request->>'$.id'``).
A log that cannot keep up never slows the server: past ``max_rows`` waiting rows the oldest
are dropped and counted (``dropped``); a write that fails is logged and its rows dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from griffin.errors import GriffinError
from griffin.features.offline.parquet_log import append_parquet

__all__ = ["PredictionLog", "prediction_log_dir"]

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        ("deployment", pa.string()),
        ("model", pa.string()),
        ("version", pa.int64()),
        ("role", pa.string()),
        ("row", pa.int32()),
        ("request", pa.string()),
        ("inputs", pa.string()),
        ("prediction", pa.string()),
        ("latency_ms", pa.float64()),
    ]
)


def prediction_log_dir(offline_root: str, project: str, deployment: str) -> str:
    """Where a deployment's predictions are logged."""
    return f"{offline_root.rstrip('/')}/predictions/{project}/{deployment}"


@dataclass(frozen=True)
class _Entry:
    request_id: str
    at: datetime
    deployment: str
    model: str
    version: int
    role: str
    request: Mapping[str, Sequence[Any]]
    inputs: pd.DataFrame
    predictions: np.ndarray[Any, Any]
    latency_ms: float


class PredictionLog:
    """Buffers predictions and writes them to parquet in the background.

    Args:
        offline_root: the offline root (setting ``offline_root``): a folder or URL.
        project: the deployments' project.
        flush_s: the longest a prediction waits in memory.
        flush_rows: write as soon as this many rows wait.
        max_rows: the most rows kept waiting; older ones are dropped beyond it.
    """

    def __init__(
        self,
        offline_root: str,
        project: str,
        *,
        flush_s: float = 2.0,
        flush_rows: int = 10_000,
        max_rows: int = 1_000_000,
    ) -> None:
        self.offline_root = offline_root
        self.project = project
        self.flush_s = flush_s
        self.flush_rows = flush_rows
        self.max_rows = max_rows
        self.written = 0
        self.dropped = 0
        self.files: list[str] = []
        self._entries: deque[_Entry] = deque()
        self._rows = 0
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add(
        self,
        request_id: str,
        deployment: str,
        model: str,
        version: int,
        role: str,
        request: Mapping[str, Sequence[Any]],
        inputs: pd.DataFrame,
        predictions: np.ndarray[Any, Any],
        latency_s: float,
    ) -> None:
        """Keep one request's predictions for the next write (no copy, no encoding here)."""
        entry = _Entry(
            request_id,
            datetime.now(UTC),
            deployment,
            model,
            version,
            role,
            request,
            inputs,
            predictions,
            latency_s * 1000.0,
        )
        self._entries.append(entry)
        self._rows += len(inputs)
        while self._rows > self.max_rows and self._entries:
            gone = self._entries.popleft()
            self._rows -= len(gone.inputs)
            self.dropped += len(gone.inputs)
        if self._rows >= self.flush_rows:
            self._due.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="griffin-log")

    async def close(self) -> None:
        """Stop, writing what waits."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self.flush_s)
            self._due.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every waiting prediction now (in a worker thread)."""
        if not self._entries:
            return
        entries = list(self._entries)
        self._entries.clear()
        self._rows = 0
        await asyncio.to_thread(self._write, entries)

    def _write(self, entries: list[_Entry]) -> None:
        by_deployment: dict[str, list[_Entry]] = defaultdict(list)
        for entry in entries:
            by_deployment[entry.deployment].append(entry)
        for deployment, group in by_deployment.items():
            table = _table(group)
            day = group[-1].at.strftime("%Y-%m-%d")
            folder = f"{prediction_log_dir(self.offline_root, self.project, deployment)}/date={day}"
            started = time.perf_counter()
            try:
                self.files.append(append_parquet(folder, table, what="the prediction log"))
            except GriffinError as exc:
                self.dropped += table.num_rows
                log.error("prediction log: %s; %d rows dropped", exc.message, table.num_rows)
                continue
            self.written += table.num_rows
            log.debug(
                "prediction log: %d rows of %s in %.1f ms",
                table.num_rows,
                deployment,
                (time.perf_counter() - started) * 1000,
            )


def _table(entries: list[_Entry]) -> pa.Table:
    """The rows of ``entries`` as one table. Each entry's inputs go through numpy
    (``to_numpy().tolist()``), never pandas' per-row machinery: the server keeps answering
    while this runs, and this costs it a few microseconds per request, not hundreds."""
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for entry in entries:
        count = len(entry.inputs)
        names, sent_columns = list(entry.request), entry.request.values()
        sent = [dict(zip(names, row, strict=True)) for row in zip(*sent_columns, strict=True)]
        input_names = [str(c) for c in entry.inputs.columns]
        used = [
            dict(zip(input_names, row, strict=True)) for row in entry.inputs.to_numpy().tolist()
        ]
        values = entry.predictions.tolist()
        columns["request_id"] += [entry.request_id] * count
        columns["at"] += [entry.at] * count
        columns["deployment"] += [entry.deployment] * count
        columns["model"] += [entry.model] * count
        columns["version"] += [entry.version] * count
        columns["role"] += [entry.role] * count
        columns["row"] += range(count)
        columns["request"] += map(_json, sent)
        columns["inputs"] += map(_json, used)
        columns["prediction"] += map(_json, values[:count])
        columns["latency_ms"] += [entry.latency_ms] * count
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _json(value: Any) -> str:
    return orjson.dumps(
        value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=_plain
    ).decode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)
