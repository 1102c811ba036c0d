"""The BentoML peer: the benchmark model behind BentoML's adaptive batching.

``predict`` takes the model's 10 inputs per row. ``predict_entities`` takes entity ids and
reads their features from Redis first, the way a team without a feature platform writes it
by hand: one MGET of float64 vectors per batch. Configured by ``BENCH_MODEL`` (a pickled
pipeline), ``BENCH_REDIS`` and ``BENCH_PREFIX``.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import bentoml  # type: ignore[import-not-found, unused-ignore]
import numpy as np


@bentoml.service(workers=1)  # type: ignore[untyped-decorator, unused-ignore]
class Eta:
    def __init__(self) -> None:
        import redis

        with open(os.environ["BENCH_MODEL"], "rb") as handle:
            self.model = pickle.load(handle)
        self.redis = redis.Redis.from_url(os.environ["BENCH_REDIS"])
        self.prefix = os.environ["BENCH_PREFIX"]

    @bentoml.api(batchable=True, max_batch_size=32, max_latency_ms=50)  # type: ignore[untyped-decorator, unused-ignore]
    def predict(self, rows: np.ndarray) -> np.ndarray:
        result: Any = self.model.predict(rows)
        return np.asarray(result)

    @bentoml.api(batchable=True, max_batch_size=32, max_latency_ms=50)  # type: ignore[untyped-decorator, unused-ignore]
    def predict_entities(self, ids: np.ndarray) -> np.ndarray:
        blobs: list[bytes] = self.redis.mget(  # type: ignore[assignment]
            [f"{self.prefix}{int(i)}" for i in ids.ravel()]
        )
        rows = np.vstack([np.frombuffer(b, dtype=np.float64) for b in blobs])
        result: Any = self.model.predict(rows)
        return np.asarray(result)
