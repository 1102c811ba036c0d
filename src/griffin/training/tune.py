"""Sweeps on Ray Tune: a sweep job on the ``ray`` backend runs its trials as Tune trials.

Used by :func:`griffin.training.sweeps.run_sweep` when the sweep job's backend is ``ray`` (its
process is then a Ray job's driver on the cluster) and it is not distributed (``workers`` 1).
Instead of one child job per trial, the driver:

1. prepares the job once, as a training job does (code package, ``train``, training data);
2. runs a :class:`ray.tune.Tuner` whose search space is the sweep's own trial list (grid or
   seeded random: ``tune.grid_search`` over the trial numbers), at most ``parallel`` trials at
   a time, each reserving the job's ``cpus``, ``gpus`` and ``memory``;
3. in each trial: builds the context with the trial's parameters on top of the job's, calls
   ``train(ctx)`` the way a training job does (:func:`griffin.training.runner.train_once`)
   under a tracked run of its own, and reports the sweep's metric to Tune
   (:func:`ray.tune.report`); a small actor keeps every trial's metrics and only the best
   model so far;
4. registers the best trial's model as the one new version, its lineage naming the sweep job
   and the best trial's run; the result has the shape of a child-job sweep's (``best_job`` is
   the sweep job itself).

Ray is imported only here, and this module only when a sweep runs on the ``ray`` backend.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from griffin.domain.registry import JOB_TAG
from griffin.domain.sweeps import best_trial
from griffin.errors import GriffinError
from griffin.training.runner import (
    JobFailed,
    make_context,
    params_for,
    prepare,
    register,
    run_params,
    train_once,
)
from griffin.training.sweeps import SWEEP_TAG, TRIAL_TAG, _format

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.domain.jobs import Job
    from griffin.domain.sweeps import SweepSpec, Trial
    from griffin.training.runner import Prepared

__all__ = ["tune_sweep"]


def _better(value: float, number: int, best: tuple[float, int] | None, goal: str) -> bool:
    """Whether ``value`` of trial ``number`` beats ``best``; ties go to the lower number (as
    :func:`~griffin.domain.sweeps.best_trial` picks among trials in order)."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    if value == best[0]:
        return number < best[1]
    return value > best[0] if goal == "maximize" else value < best[0]


def _keeper(metric: str, goal: str) -> Any:
    """An actor holding each trial's outcome, and the pickled model of the best trial only."""
    import ray

    @ray.remote(num_cpus=0)
    class Keeper:
        def __init__(self) -> None:
            self.outcomes: dict[int, dict[str, Any]] = {}
            self.best: tuple[float, int] | None = None
            self.payload: bytes | None = None

        def put(self, number: int, outcome: dict[str, Any], payload: bytes | None) -> None:
            self.outcomes[number] = outcome
            value = (outcome.get("metrics") or {}).get(metric)
            if payload is None or value is None:
                return
            if _better(float(value), number, self.best, goal):
                self.best, self.payload = (float(value), number), payload

        def results(self) -> dict[int, dict[str, Any]]:
            return self.outcomes

        def best_model(self) -> tuple[int | None, bytes | None]:
            return (None if self.best is None else self.best[1]), self.payload

    return Keeper.remote()  # type: ignore[attr-defined]


def _trial(config: dict[str, Any], shared: dict[str, Any]) -> None:
    """One Tune trial: ``train(ctx)`` with the trial's parameters (see the module's text)."""
    import ray
    from ray import cloudpickle, tune

    from griffin.client import Client
    from griffin.training.distributed import _unpack
    from griffin.training.models import ModelFunction, resolve_entry

    # Ray's workers log INFO to the driver: keep the embedded client's chatter out of the log.
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    number = int(config["trial"])
    trial: Trial = shared["trials"][number]
    job: Job = shared["job"]
    prepared: Prepared = shared["prepared"]
    code = prepared.code
    if not (code / prepared.definition.entry.rpartition(":")[0]).is_file():
        _unpack(ray.get(shared["archive"]), code)  # another node than the driver's
    table = None if shared["data"] is None else ray.get(shared["data"])
    workdir = prepared.workdir / f"trial-{number}"
    workdir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(code))
    os.chdir(code)  # the user's relative paths work as in the project folder
    function = resolve_entry(code, prepared.definition.entry)
    train = function.func if isinstance(function, ModelFunction) else function
    here = replace(prepared, train=train, table=table, workdir=workdir)
    params = params_for(prepared.definition, job, dict(trial.params))
    keeper = shared["keeper"]
    with Client() as client:  # the job's GRIFFIN_* settings reach the trials through Ray
        run = client.create_run(
            shared["experiment"],
            name=f"{prepared.definition.name}-{job.id[:8]}-trial-{number}",
            params=run_params(params),
            tags={JOB_TAG: job.id, SWEEP_TAG: job.id, TRIAL_TAG: str(number)},
        )
        print(f"griffin: trial {number} ({_format(trial.params)}): run {run.id}", flush=True)
        ctx = make_context(client, job, here, params, run.id)
        try:
            model, metrics = train_once(ctx, job, here)
        except (JobFailed, GriffinError) as exc:
            reason = exc.reason if isinstance(exc, JobFailed) else exc.headline
            client.end_run(run.id, "FAILED", reason=reason[:500])
            print(f"griffin: trial {number} FAILED: {reason}", flush=True)
            ray.get(keeper.put.remote(number, {"failure": reason, "run_id": run.id}, None))
            return
        except BaseException as exc:
            client.end_run(run.id, "FAILED", reason=str(exc)[:500])
            raise
        client.end_run(run.id)
    payload = cloudpickle.dumps(model)  # type: ignore[no-untyped-call]
    outcome = {"metrics": dict(metrics), "params": params, "run_id": run.id}
    ray.get(keeper.put.remote(number, outcome, payload))
    metric = shared["metric"]
    print(f"griffin: trial {number} SUCCEEDED", flush=True)
    if metric in metrics:
        tune.report({metric: float(metrics[metric])})


def tune_sweep(
    client: Client, parent: Job, sweep: SweepSpec, trials: list[Trial]
) -> dict[str, Any]:
    """Run the sweep's ``trials`` on Ray Tune, register the best trial's model; the result."""
    # Every trial's lines in the job's log (Ray folds repeated lines of several workers), and
    # Tune's reporter that honours ``verbose=0`` (no tables of trials in the log).
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray
    from ray import cloudpickle, tune

    from griffin.training.distributed import _archive

    prepared = prepare(client, parent)
    spec = parent.spec
    if not ray.is_initialized():
        ray.init()  # the job's own cluster: Ray sets RAY_ADDRESS for a job's driver
    resources: dict[str, float] = {"cpu": spec.resources.cpus}
    if spec.resources.gpus:
        resources["gpu"] = float(spec.resources.gpus)
    if spec.resources.memory_bytes:
        resources["memory"] = float(spec.resources.memory_bytes)
    keeper = _keeper(sweep.metric, sweep.goal)
    shared = {
        "job": parent,
        # Each trial imports train itself; the data travels once, through the object store.
        "prepared": replace(prepared, train=None, table=None),
        "trials": trials,
        "archive": ray.put(_archive(prepared.code)),
        "data": None if prepared.table is None else ray.put(prepared.table),
        "keeper": keeper,
        "metric": sweep.metric,
        "experiment": spec.experiment or f"sweep {spec.model}",
    }
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(_trial, shared=shared), resources),
        param_space={"trial": tune.grid_search([t.number for t in trials])},
        tune_config=tune.TuneConfig(
            metric=sweep.metric,
            mode="max" if sweep.goal == "maximize" else "min",
            max_concurrent_trials=sweep.parallel,
        ),
        run_config=tune.RunConfig(
            name=f"griffin-{parent.id}-{parent.attempt}",
            storage_path=str(prepared.workdir / "ray-tune"),
            verbose=0,
        ),
    )
    print(f"griffin: running the trials on Ray Tune, {sweep.parallel} at a time", flush=True)
    grid = tuner.fit()
    outcomes: dict[int, dict[str, Any]] = ray.get(keeper.results.remote())
    for index in range(len(grid)):
        result = grid[index]
        number = int((result.config or {}).get("trial", -1))
        if result.error is not None and number not in outcomes:
            outcomes[number] = {"failure": f"{type(result.error).__name__}: {result.error}"}
            print(f"griffin: trial {number} ERROR: {result.error}", flush=True)
    scored = [
        (trial, outcomes.get(trial.number, {}).get("metrics"))
        for trial in sorted(trials, key=lambda t: t.number)
    ]
    succeeded = sum(1 for _, metrics in scored if metrics is not None)
    best = best_trial(scored, sweep.metric, sweep.goal)
    if best is None:
        raise JobFailed(
            f"no trial gave metric {sweep.metric!r}: {succeeded} of {len(trials)} trials "
            "succeeded (log it with ctx.log_metric)"
        )
    trial, value = best
    kept, payload = ray.get(keeper.best_model.remote())
    if kept != trial.number or payload is None:
        raise JobFailed(f"the model of the best trial ({trial.number}) was not kept")
    model = cloudpickle.loads(payload)
    outcome = outcomes[trial.number]
    # The best trial's context, rebuilt here: its parameters and metrics, the input example.
    ctx = make_context(client, parent, prepared, dict(outcome["params"]), outcome["run_id"])
    ctx.metrics.update(outcome["metrics"])
    version = register(client, parent, prepared, model, ctx, outcome["run_id"])
    return {
        "model": spec.model,
        "version": version,
        "metric": sweep.metric,
        "value": value,
        "params": trial.params,
        "best_trial": trial.number,
        "best_job": parent.id,
        "trials": len(trials),
        "succeeded": succeeded,
    }
