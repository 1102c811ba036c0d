"""What runs inside a sweep job: its trials as ``train`` child jobs, then the best one.

The sweep's process submits one child job per trial (at most ``parallel`` at a time), with the
sweep's settings and the trial's parameters on top of its own overrides, waits for them, reads
the chosen metric from the version each successful trial registered, and reports the best
trial as its result. Cancelling the sweep cancels its trials.

On the ``ray`` backend (a sweep that is not distributed) the trials are Ray Tune trials of the
sweep's own process instead: see :mod:`griffin.training.tune`.
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import TYPE_CHECKING, Any

from griffin.domain.jobs import JobSpec
from griffin.domain.sweeps import SweepSpec, Trial, best_trial
from griffin.training.runner import JobFailed

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.domain.jobs import Job

__all__ = ["run_sweep"]

SWEEP_TAG = "griffin.sweep"
TRIAL_TAG = "griffin.trial"


def _child_spec(parent: Job, trial: Trial) -> dict[str, Any]:
    spec = parent.spec
    child = JobSpec(
        model=spec.model,
        definition_version=spec.definition_version,
        code_digest=spec.code_digest,
        data=dict(spec.data),
        params={**spec.params, **trial.params},
        backend=spec.backend,
        resources=spec.resources,
        runtime=spec.runtime,
        timeout_s=spec.timeout_s,
        retries=spec.retries,
        tags={**spec.tags, SWEEP_TAG: parent.id, TRIAL_TAG: str(trial.number)},
        parent_job_id=parent.id,
        experiment=spec.experiment or f"sweep {spec.model}",
    )
    return child.to_json()


def _format(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def on_tune(parent: Job) -> bool:
    """Whether the sweep's trials run on Ray Tune (the ``ray`` backend, one worker a trial)."""
    return parent.spec.backend == "ray" and parent.spec.resources.workers <= 1


def run_sweep(client: Client, job_id: str, *, poll: float = 0.5) -> dict[str, Any]:
    """Run sweep job ``job_id`` to the end; returns (and reports) its result."""
    parent = client.get_job(job_id)
    client.report_job(job_id, status="RUNNING")
    assert parent.spec.sweep is not None
    sweep = SweepSpec.from_json(parent.spec.sweep)
    trials = sweep.trials()
    print(
        f"griffin: sweep {parent.id}: {len(trials)} {sweep.method} trials of "
        f"{parent.spec.model}, {sweep.parallel} at a time, best by {sweep.goal} {sweep.metric}",
        flush=True,
    )
    if on_tune(parent):
        from griffin.training.tune import tune_sweep

        return _report(client, parent, tune_sweep(client, parent, sweep, trials))
    stopping: list[int] = []

    def on_term(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    pending = list(trials)
    running: dict[str, Trial] = {}
    finished: list[tuple[Trial, Job]] = []
    try:
        while pending or running:
            if stopping:
                for running_id in running:
                    client.cancel_job(running_id)
                raise JobFailed(
                    f"cancelled after {len(finished)} of {len(trials)} trials; "
                    f"its {len(running)} running trial(s) were cancelled too"
                )
            while pending and len(running) < sweep.parallel:
                trial = pending.pop(0)
                submitted = client.submit_job(_child_spec(parent, trial))
                running[submitted.id] = trial
                print(
                    f"griffin: trial {trial.number} ({_format(trial.params)}): job {submitted.id}"
                )
            for child_id in list(running):
                state = client.get_job(child_id)
                if state.status.is_terminal:
                    trial = running.pop(child_id)
                    finished.append((trial, state))
                    print(
                        f"griffin: trial {trial.number} {state.status}"
                        + (f": {state.status_reason}" if str(state.status) != "SUCCEEDED" else ""),
                        flush=True,
                    )
            if running:
                time.sleep(poll)
    finally:
        signal.signal(signal.SIGTERM, previous)
    scored: list[tuple[Trial, dict[str, float] | None]] = []
    versions: dict[int, int] = {}
    for trial, child in finished:
        version = (child.result or {}).get("version")
        if str(child.status) == "SUCCEEDED" and isinstance(version, int):
            versions[trial.number] = version
            scored.append((trial, client.get_model_version(parent.spec.model, version).metrics))
        else:
            scored.append((trial, None))
    succeeded = len(versions)
    best = best_trial(scored, sweep.metric, sweep.goal)
    if best is None:
        raise JobFailed(
            f"no trial gave metric {sweep.metric!r}: {succeeded} of {len(trials)} trials "
            "succeeded (log it with ctx.log_metric)"
        )
    trial, value = best
    result = {
        "model": parent.spec.model,
        "version": versions[trial.number],
        "metric": sweep.metric,
        "value": value,
        "params": trial.params,
        "best_trial": trial.number,
        "best_job": next(c.id for t, c in finished if t.number == trial.number),
        "trials": len(trials),
        "succeeded": succeeded,
    }
    return _report(client, parent, result)


def _report(client: Client, parent: Job, result: dict[str, Any]) -> dict[str, Any]:
    client.report_job(parent.id, result=result)
    print(
        f"griffin: best trial {result['best_trial']}: {result['metric']}={result['value']:.6g} "
        f"({_format(result['params'])}), {result['model']} version {result['version']}",
        flush=True,
    )
    return result
