"""Batch predictions on a Ray cluster with Ray Data: a predict job on the ``ray`` backend.

The job's process (the Ray job's driver) reads the rows and builds the features as the local
backend does (:mod:`griffin.training.batch_predict`); only the model's input columns go to the
cluster, as one block per chunk. ``map_batches`` runs a pool of ``workers`` actors, each
loading the model once and predicting a chunk at a time with the same :func:`score` as the
local backend; the predictions come back in the rows' order (``preserve_order``) and the driver
writes them. The output is therefore the local backend's, row for row.

Ray is imported only here, and this module only when a predict job runs on Ray.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from griffin.training.batch_predict import Scorer, predict_failed, score

if TYPE_CHECKING:
    import pyarrow as pa

    from griffin.registry.flavors import LoadedModel

__all__ = ["ray_scorer"]


class _Predictor:
    """One Ray Data actor: the model, loaded once, predicting one chunk per call."""

    def __init__(self, boxed: list[Any]) -> None:
        import ray

        # Boxed in a list: Ray resolves only top-level object references, and the model is
        # fetched here, once per actor, not once per chunk.
        self.model: LoadedModel = ray.get(boxed[0])

    def __call__(self, inputs: pa.Table) -> pa.Table:
        return score(self.model, inputs)


def ray_scorer(workers: int = 1, cpus: float = 1.0) -> Scorer:
    """A :class:`~griffin.training.batch_predict.Scorer` on the job's Ray cluster:
    ``workers`` actors of ``cpus`` CPUs each."""

    def scores(model: LoadedModel, inputs: pa.Table, chunk_size: int) -> Iterator[pa.Table]:
        import ray
        import ray.data

        if not ray.is_initialized():
            ray.init()  # the job's own cluster: Ray sets RAY_ADDRESS for a job's driver
        # Ray Data's progress bars would flood the job's log; Griffin prints its own progress.
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        if inputs.num_rows == 0:
            return
        chunks = [inputs.slice(i, chunk_size) for i in range(0, inputs.num_rows, chunk_size)]
        print(
            f"griffin: predicting {len(chunks)} chunks on {workers} Ray Data worker"
            f"{'s' if workers != 1 else ''}",
            flush=True,
        )
        dataset = ray.data.from_arrow(chunks).map_batches(
            _Predictor,
            fn_constructor_args=([ray.put(model)],),
            batch_size=chunk_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus,
        )
        done = 0
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                table: pa.Table = batch
                done += table.num_rows
                yield table
        except Exception as exc:
            # A failure inside an actor comes back wrapped; its first line names the cause.
            cause = getattr(exc, "cause", None) or exc
            raise predict_failed(cause, done, min(chunk_size, inputs.num_rows - done)) from exc

    return scores
