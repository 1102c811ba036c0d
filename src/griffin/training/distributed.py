"""Distributed training on Ray Train: ``train(ctx)`` on several workers of a Ray cluster.

Used by the job's process (:mod:`griffin.training.runner`) when a job on the ``ray`` backend
asks for ``resources.workers`` > 1. That process is then the Ray job's driver: it starts a
Ray Train trainer matching the model definition's runtime (``pytorch-*``: ``TorchTrainer``,
which sets up the torch process group; ``xgboost-*``: ``XGBoostTrainer`` and ``lightgbm-*``:
``LightGBMTrainer``, which set up their frameworks' collective communication; anything else: a
plain ``DataParallelTrainer``) with ``workers`` workers, each reserving the job's ``cpus``,
``gpus`` and ``memory``. Each worker:

1. gets the job's code (the driver's extracted package: the same folder on the driver's node,
   unpacked at the same path on other nodes, so the user's modules have the same names
   everywhere and a model pickled by a worker loads in the driver);
2. builds a :class:`~griffin.training.context.TrainingContext` whose ``data`` is its shard of
   the training data (rows ``rank``, ``rank + world_size``, ...), with ``rank`` and
   ``world_size`` set; rank 0's context logs to the job's run, the others' only count;
3. calls ``train(ctx)``; rank 0 sends back the returned model and its metrics, which the
   driver registers as the job's model version.

Ray is imported only here, and this module only when a job is distributed.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from griffin.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from griffin.domain.jobs import Job
    from griffin.domain.model_definitions import ModelDefinition
    from griffin.training.context import TrainingContext

__all__ = ["shard", "train_distributed", "trainer_for"]

# Runtime family (the part of a standard runtime's name before "-") -> its Ray Train trainer.
TRAINERS: dict[str, str] = {
    "pytorch": "ray.train.torch:TorchTrainer",
    "torch": "ray.train.torch:TorchTrainer",
    "xgboost": "ray.train.xgboost:XGBoostTrainer",
    "lightgbm": "ray.train.lightgbm:LightGBMTrainer",
}


def trainer_for(runtime: str | None) -> type[Any]:
    """The Ray Train trainer class for a model definition's runtime (imported now)."""
    target = TRAINERS.get((runtime or "").split("-", 1)[0].lower())
    if target is None:
        from ray.train.v2._internal.constants import is_v2_enabled

        target = (
            "ray.train.v2.api.data_parallel_trainer:DataParallelTrainer"
            if is_v2_enabled()
            else "ray.train.data_parallel_trainer:DataParallelTrainer"
        )
    module, _, name = target.partition(":")
    try:
        found: type[Any] = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"distributed training with runtime {runtime!r} needs {target.split(':')[1]}, "
            f"which cannot be imported on the Ray cluster: {exc}"
        ) from exc
    return found


def shard(table: pa.Table, rank: int, world_size: int) -> pa.Table:
    """Worker ``rank``'s rows: every ``world_size``-th row from row ``rank`` on."""
    return table.take(np.arange(rank, table.num_rows, world_size))


def _archive(folder: Path) -> bytes:
    """The folder's files as a zip archive in memory (paths relative to it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _unpack(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            target = (folder / name).resolve()
            if not target.is_relative_to(folder.resolve()):
                continue  # never write outside the folder
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))


def _collector() -> Any:
    """A small actor through which rank 0 hands its model and metrics to the driver."""
    import ray

    @ray.remote(num_cpus=0)
    class Collector:
        def __init__(self) -> None:
            self.value: Any = None

        def put(self, value: Any) -> None:
            self.value = value

        def get(self) -> Any:
            return self.value

    return Collector.remote()  # type: ignore[attr-defined]


def _user_exception(exc: BaseException) -> BaseException:
    """The exception ``train`` raised on the lowest failing rank, when Ray reports one."""
    failures = getattr(exc, "worker_failures", None)
    if not failures:
        return exc
    rank = min(failures)
    failure = failures[rank]
    text = str(failure)
    if text:
        print(f"griffin: train() failed on worker {rank}:\n{text}", file=sys.stderr, flush=True)
    found = getattr(failure, "_base_exc", failure)
    return found if isinstance(found, BaseException) else exc


def train_distributed(
    train: Any, ctx: TrainingContext, job: Job, definition: ModelDefinition, code: Path
) -> Any:
    """Run ``train`` on ``job.spec.resources.workers`` Ray Train workers; rank 0's model.

    ``ctx`` is the driver's context: its ``metrics`` receive rank 0's, and its data is what
    the workers' shards are cut from.
    """
    import ray
    from ray import cloudpickle

    resources = job.spec.resources
    trainer_cls = trainer_for(definition.runtime)
    # The public names: Ray Train v2's (Ray's default), or v1's when it is turned off.
    from ray.train import RunConfig, ScalingConfig

    if not ray.is_initialized():
        ray.init()  # the job's own cluster: Ray sets RAY_ADDRESS for a job's driver
    per_worker: dict[str, float] = {"CPU": resources.cpus}
    if resources.gpus:
        per_worker["GPU"] = float(resources.gpus)
    if resources.memory_bytes:
        per_worker["memory"] = float(resources.memory_bytes)
    collector = _collector()
    config = {
        "code": str(code),
        "archive": ray.put(_archive(code)),
        "entry": definition.entry,
        "data": None if ctx.data is None else ray.put(ctx.data),
        "workdir": str(ctx.workdir),
        "collector": collector,
        "context": {
            "params": ctx.params,
            "model_name": ctx.model_name,
            "run_id": ctx.run_id,
            "job_id": ctx.job_id,
            "attempt": ctx.attempt,
            "target": ctx.target,
            "task": ctx.task,
            "dataset": ctx.dataset,
        },
    }
    trainer = trainer_cls(
        _worker_loop,
        train_loop_config=config,
        scaling_config=ScalingConfig(
            num_workers=resources.workers,
            use_gpu=resources.gpus > 0,
            resources_per_worker=per_worker,
        ),
        run_config=RunConfig(
            name=f"griffin-{job.id}-{job.attempt}",
            storage_path=str(ctx.workdir / "ray-train"),
        ),
    )
    print(
        f"griffin: training on {resources.workers} Ray Train workers ({trainer_cls.__name__})",
        flush=True,
    )
    try:
        trainer.fit()
    except Exception as exc:
        found = _user_exception(exc)
        if found is exc:
            raise
        raise found from None
    outcome = ray.get(collector.get.remote())
    if outcome is None:
        return None
    payload, metrics = outcome
    ctx.metrics.update(metrics)
    return None if payload is None else cloudpickle.loads(payload)


def _worker_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: ``train(ctx)`` on its shard (see the module's description)."""
    import ray
    import ray.train
    from ray import cloudpickle

    from griffin.training.context import TrainingContext
    from griffin.training.models import ModelFunction, resolve_entry

    # Ray's workers log INFO to the driver: keep the embedded client's chatter out of the job log.
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    code = Path(config["code"])
    entry_file = code / str(config["entry"]).rpartition(":")[0]
    if not entry_file.is_file():  # another node than the driver's: the same path here
        _unpack(ray.get(config["archive"]), code)
    table = None if config["data"] is None else ray.get(config["data"])
    values = config["context"]
    client = None
    if rank == 0:
        from griffin.client import Client

        client = Client()  # the job's GRIFFIN_* settings reach the workers through Ray
    try:
        function = resolve_entry(code, config["entry"])
        train = function.func if isinstance(function, ModelFunction) else function
        workdir = Path(config["workdir"]) / f"worker-{rank}"
        workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(code)  # the user's relative paths work as in the project folder
        ctx = TrainingContext(
            params=dict(values["params"]),
            model_name=values["model_name"],
            client=client,
            run_id=values["run_id"] if rank == 0 else None,
            job_id=values["job_id"],
            attempt=values["attempt"],
            target=values["target"],
            task=values["task"],
            data=None if table is None else shard(table, rank, world_size),
            dataset=values["dataset"],
            workdir=workdir,
            world_size=world_size,
            rank=rank,
        )
        model = train(ctx)
        if rank == 0:
            payload = None if model is None else cloudpickle.dumps(model)  # type: ignore[no-untyped-call]
            ray.get(config["collector"].put.remote((payload, dict(ctx.metrics))))
    finally:
        if client is not None:
            client.close()
