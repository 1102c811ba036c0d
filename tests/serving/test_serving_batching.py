"""The adaptive batcher: no wait when idle, shared predicts under load, order and errors kept."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from griffin.serving.batching import Batcher


class SlowModel:
    """Doubles column ``x``; each predict takes ``seconds`` and records its batch size."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.calls: list[int] = []
        self.threads: set[str] = set()

    def predict(self, frame: pd.DataFrame) -> Any:
        self.calls.append(len(frame))
        self.threads.add(threading.current_thread().name)
        if self.seconds:
            time.sleep(self.seconds)
        return frame["x"].to_numpy() * 2


def _rows(*values: float) -> pd.DataFrame:
    return pd.DataFrame({"x": list(values)})


def test_a_lone_request_does_not_wait() -> None:
    async def main() -> tuple[np.ndarray[Any, Any], float]:
        model = SlowModel()
        batcher = Batcher(model.predict, max_batch_size=32, max_latency_ms=500)
        start = time.perf_counter()
        out = await batcher.predict(_rows(1, 2, 3))
        took = time.perf_counter() - start
        await batcher.close()
        return out, took

    out, took = asyncio.run(main())
    assert out.tolist() == [2, 4, 6]
    assert took < 0.25  # far below the 500 ms linger: nothing else was waiting


def test_concurrent_requests_share_batches_and_get_their_own_rows() -> None:
    model = SlowModel(seconds=0.05)

    async def main() -> list[np.ndarray[Any, Any]]:
        batcher = Batcher(model.predict, max_batch_size=16, max_latency_ms=5, name="t")
        outs = await asyncio.gather(*(batcher.predict(_rows(i, i + 0.5)) for i in range(20)))
        assert batcher.stats.requests == 20
        assert batcher.stats.rows == 40
        await batcher.close()
        return list(outs)

    outs = asyncio.run(main())
    for i, out in enumerate(outs):
        assert out.tolist() == [2 * i, 2 * i + 1]
    assert sum(model.calls) == 40
    assert len(model.calls) < 20  # batched: fewer predicts than requests
    assert max(model.calls) <= 16
    assert model.threads == {next(iter(model.threads))}  # one worker thread
    assert next(iter(model.threads)).startswith("griffin-predict-t")


def test_a_request_larger_than_the_batch_goes_alone() -> None:
    model = SlowModel()

    async def main() -> np.ndarray[Any, Any]:
        batcher = Batcher(model.predict, max_batch_size=4)
        out = await batcher.predict(_rows(*range(10)))
        await batcher.close()
        return out

    assert len(asyncio.run(main())) == 10
    assert model.calls == [10]


def test_a_failing_predict_fails_its_batch_only() -> None:
    calls = {"n": 0}

    def flaky(frame: pd.DataFrame) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("bad input")
        return frame["x"].to_numpy()

    async def main() -> None:
        batcher = Batcher(flaky)
        with pytest.raises(ValueError, match="bad input"):
            await batcher.predict(_rows(1))
        assert (await batcher.predict(_rows(5))).tolist() == [5]
        await batcher.close()

    asyncio.run(main())


def test_a_model_returning_the_wrong_number_of_predictions_is_an_error() -> None:
    async def main() -> None:
        batcher = Batcher(lambda frame: [1])
        with pytest.raises(ValueError, match="returned 1 predictions for 2 rows"):
            await batcher.predict(_rows(1, 2))
        await batcher.close()

    asyncio.run(main())


def test_dataframe_output_with_one_column_is_flattened() -> None:
    async def main() -> list[Any]:
        batcher = Batcher(lambda frame: pd.DataFrame({"y": frame["x"] + 1}))
        out = await batcher.predict(_rows(1, 2))
        await batcher.close()
        return out.tolist()

    assert asyncio.run(main()) == [2, 3]


def test_closing_fails_what_is_still_queued() -> None:
    model = SlowModel(seconds=0.2)

    async def main() -> list[Any]:
        batcher = Batcher(model.predict, max_batch_size=1)
        tasks = [asyncio.ensure_future(batcher.predict(_rows(i))) for i in range(3)]
        await asyncio.sleep(0.05)
        await batcher.close()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert any(isinstance(r, RuntimeError) for r in results)


def test_a_quick_model_idle_predicts_on_the_event_loop_never_beside_a_batch() -> None:
    """After its first predict shows it is quick, a lone request to an idle model skips the
    worker thread; concurrent requests still batch, and two predicts never overlap."""
    active = {"now": 0, "most": 0}
    threads: list[str] = []

    def predict(frame: pd.DataFrame) -> Any:
        active["now"] += 1
        active["most"] = max(active["most"], active["now"])
        threads.append(threading.current_thread().name)
        value = frame["x"].to_numpy() * 2  # microseconds: far under INLINE_UNDER_S
        active["now"] -= 1
        return value

    async def main() -> None:
        batcher = Batcher(predict, max_batch_size=8, max_latency_ms=1, name="q")
        assert (await batcher.predict(_rows(1))).tolist() == [2]  # measured in the thread
        for i in range(5):
            assert (await batcher.predict(_rows(i))).tolist() == [2 * i]
        outs = await asyncio.gather(*(batcher.predict(_rows(i)) for i in range(30)))
        assert [o.tolist() for o in outs] == [[2 * i] for i in range(30)]
        await batcher.close()

    asyncio.run(main())
    assert threads[0].startswith("griffin-predict-q")
    assert threads[1:6] == [threading.main_thread().name] * 5
    assert any(t.startswith("griffin-predict-q") for t in threads[6:])  # batches under load
    assert len(threads) < 36
    assert active["most"] == 1


def test_a_slow_model_always_predicts_in_its_worker_thread() -> None:
    model = SlowModel(seconds=0.005)  # over INLINE_UNDER_S: it would hold up the event loop

    async def main() -> None:
        batcher = Batcher(model.predict, name="slow")
        for i in range(4):
            assert (await batcher.predict(_rows(i))).tolist() == [2 * i]
        await batcher.close()

    asyncio.run(main())
    assert len(model.threads) == 1
    assert next(iter(model.threads)).startswith("griffin-predict-slow")
