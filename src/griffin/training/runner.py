"""What runs inside a training job: ``python -m griffin.runtime --job ID``.

The job's process fetches the model definition's code package, builds or loads the training
data, calls ``train(ctx)`` under a tracked run, saves the returned model in its flavor with a
signature inferred from the feature columns, and registers a new version whose lineage names
the job, run, dataset, feature versions, definition version, code digest, git commit and
runtime. It reports RUNNING when it starts, and either its result or a one-line reason for
failing before it exits; the dispatcher turns the exit into the job's final status.

Exit status: 0 when a version was registered; 1 for a failure of the job itself (the user's
code raised, bad data, a model of no known flavor) which is not retried.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.domain.registry import JOB_TAG, TARGET_TAG, TASK_TAG, FeatureUse, Lineage
from griffin.errors import GriffinError, InvalidArgument
from griffin.training.packages import FEATURES_FILE

if TYPE_CHECKING:
    import pyarrow as pa

    from griffin.client import Client
    from griffin.domain.datasets import Dataset
    from griffin.domain.jobs import Job
    from griffin.domain.model_definitions import ModelDefinition
    from griffin.training.context import TrainingContext

__all__ = [
    "JobFailed",
    "Prepared",
    "main",
    "make_context",
    "params_for",
    "prepare",
    "register",
    "run_job",
    "train_once",
]


class JobFailed(Exception):
    """The job failed for a reason of its own; ``reason`` is the one-line status."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    model: str
    version: int
    run_id: str


def _params(definition: ModelDefinition, job: Job) -> dict[str, Any]:
    """The definition's defaults overridden by the job's, keeping JSON types; an override
    given as text (``--param depth=8``) takes the type of the default it replaces."""
    params: dict[str, Any] = dict(definition.params)
    for key, value in job.spec.params.items():
        default = params.get(key)
        params[key] = _typed(key, value, default)
    return params


def _typed(key: str, value: Any, default: Any) -> Any:
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            lowered = value.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(value)
            return lowered in {"true", "1", "yes"}
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise InvalidArgument(
            f"param {key}={value!r}: expected a {type(default).__name__} like its default "
            f"{default!r}"
        ) from None
    return value


def _data(
    client: Client, job: Job, definition: ModelDefinition, code: Path
) -> tuple[pa.Table | None, Dataset | None]:
    """The training data the job names (else the definition's default ``entity_rows``): a
    saved dataset, or entity rows joined with the definition's feature service (saved as the
    next version of dataset ``<model>-training``, so the version's lineage names an exact
    snapshot)."""
    data = job.spec.data or (
        {"entity_rows": definition.entity_rows} if definition.entity_rows else {}
    )
    if not data:
        return None, None
    if "dataset" in data:
        found = client.get_dataset(str(data["dataset"]), data.get("version"))
        return client.load_dataset(found.name, found.version), found
    if not definition.features:
        raise InvalidArgument(
            f"model definition {definition.name!r} names no feature service: give the job a "
            "saved dataset (--dataset), or add features='SERVICE' to @griffin.model"
        )
    entity_rows = str(data["entity_rows"])
    local = code / entity_rows
    rows: Any = str(local) if local.exists() else entity_rows
    features_py = code / FEATURES_FILE
    training = client.get_training_data(
        _window(rows, data.get("start"), data.get("end")),
        definition.features,
        definitions=features_py if features_py.exists() else None,
    )
    saved = client.save_dataset(
        f"{definition.name}-training",
        training,
        description=f"built by job {job.id} from {entity_rows}",
    )
    return client.load_dataset(saved.name, saved.version), saved


def _window(rows: Any, start: Any, end: Any) -> Any:
    """Entity rows limited to ``start <= event_timestamp < end`` (when given)."""
    if start is None and end is None:
        return rows
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    table = ds.dataset(rows).to_table() if isinstance(rows, str) else rows
    column = table["event_timestamp"]
    mask = None
    for bound, op in ((start, pc.greater_equal), (end, pc.less)):
        if bound is None:
            continue
        moment = datetime.fromisoformat(str(bound))
        cond = op(column, pc.scalar(moment, type=column.type))
        mask = cond if mask is None else pc.and_(mask, cond)
    return table.filter(mask)


def _lineage(
    job: Job, run_id: str, definition: ModelDefinition, digest: str, dataset: Dataset | None
) -> Lineage:
    return Lineage(
        job_id=job.id,
        run_id=run_id,
        dataset=None if dataset is None else dataset.name,
        dataset_version=None if dataset is None else dataset.version,
        feature_service=None if dataset is None else dataset.feature_service,
        feature_service_version=None if dataset is None else dataset.feature_service_version,
        features=()
        if dataset is None
        else tuple(FeatureUse(f.view, f.version, tuple(f.features)) for f in dataset.features),
        model_definition=definition.name,
        model_definition_version=definition.version,
        code_digest=digest,
        git_commit=definition.git_commit or None,
        runtime=definition.runtime,
    )


def _call_train(train: Any, ctx: Any, job: Job, definition: ModelDefinition, code: Path) -> Any:
    """``train(ctx)`` here, or on the job's Ray Train workers when it asks for several."""
    if job.spec.backend == "ray" and job.spec.resources.workers > 1:
        from griffin.training.distributed import train_distributed

        return train_distributed(train, ctx, job, definition, code)
    return train(ctx)


@dataclass(frozen=True)
class Prepared:
    """What a job needs before it trains: its definition, code, ``train`` and data."""

    definition: ModelDefinition
    digest: str
    code: Path
    train: Any
    table: pa.Table | None
    dataset: Dataset | None
    workdir: Path


def prepare(client: Client, job: Job) -> Prepared:
    """Fetch the job's code package into ``./code``, import its ``train`` and build its data.

    The user's code runs as it does in the project folder: the code is put on ``sys.path``
    and becomes the working directory (the job's scratch folder stays ``workdir``).
    """
    from griffin.training.models import ModelFunction, resolve_entry

    spec = job.spec
    definition = client.get_model_definition(spec.model, spec.definition_version)
    digest = spec.code_digest or definition.code_digest
    if not digest:
        raise InvalidArgument(
            f"model definition {definition.name!r} v{definition.version} has no code package: "
            "run `griffin models apply` in the project folder"
        )
    workdir = Path.cwd()
    code = client.download_package(digest, workdir / "code")
    print(f"griffin: job {job.id} attempt {job.attempt}: {definition.name} v{definition.version}")
    print(f"griffin: code {digest[:12]} ({definition.entry}) in {code}")
    sys.path.insert(0, str(code))
    os.chdir(code)
    function = resolve_entry(code, definition.entry)
    train = function.func if isinstance(function, ModelFunction) else function
    table, dataset = _data(client, job, definition, code)
    if dataset is not None:
        print(f"griffin: data {dataset.name} v{dataset.version}: {dataset.row_count} rows")
    return Prepared(definition, digest, code, train, table, dataset, workdir)


def params_for(definition: ModelDefinition, job: Job, overrides: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``train`` gets: the definition's defaults, the job's overrides, then
    ``overrides`` (a sweep trial's), each typed like the default it replaces."""
    params = _params(definition, job)
    for key, value in overrides.items():
        params[key] = _typed(key, value, definition.params.get(key))
    return params


def run_params(params: dict[str, Any]) -> dict[str, str]:
    """Parameters as a run records them (text)."""
    return {k: "" if v is None else str(v) for k, v in params.items()}


def make_context(
    client: Client | None, job: Job, prepared: Prepared, params: dict[str, Any], run_id: str
) -> TrainingContext:
    """The ``ctx`` of one ``train(ctx)`` call of ``job`` with ``params``, logging to ``run_id``."""
    from griffin.training.context import TrainingContext

    definition = prepared.definition
    return TrainingContext(
        params=params,
        model_name=definition.name,
        client=client,
        run_id=run_id,
        job_id=job.id,
        attempt=job.attempt,
        target=definition.target,
        task=definition.task,
        data=prepared.table,
        dataset=prepared.dataset,
        workdir=prepared.workdir,
    )


def train_once(ctx: TrainingContext, job: Job, prepared: Prepared) -> tuple[Any, dict[str, float]]:
    """``train(ctx)`` once (on Ray Train workers when the job asks for several); the model it
    returned, of a flavor Griffin can save, and the metrics it logged. Registers nothing.

    Raises:
        JobFailed: ``train`` raised (its traceback is printed first) or returned None.
        InvalidArgument: the model is of no known flavor.
    """
    from griffin.registry.flavors import detect_flavor

    try:
        model = _call_train(prepared.train, ctx, job, prepared.definition, prepared.code)
    except Exception as exc:
        # The user's frames only: this module's frame is noise in their traceback.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise JobFailed(f"train() raised {type(exc).__name__}: {first}".rstrip(": ")) from exc
    if model is None:
        raise JobFailed("train() returned None: return the trained model object")
    detect_flavor(model)  # before anything is registered
    return model, ctx.metrics


def register(
    client: Client,
    job: Job,
    prepared: Prepared,
    model: Any,
    ctx: TrainingContext,
    run_id: str,
) -> int:
    """Register ``model`` (trained with ``ctx``) as the next version; its lineage names ``job``
    and ``run_id``. Returns the version number."""
    definition = prepared.definition
    example = ctx.X_train.head(5) if prepared.table is not None else None
    tags = {JOB_TAG: job.id}
    if definition.target:
        tags[TARGET_TAG] = definition.target
    if definition.task:
        tags[TASK_TAG] = definition.task
    version = client.log_model(
        model,
        definition.name,
        run_id=run_id,
        input_example=example,
        metrics=ctx.metrics,
        params=run_params(ctx.params),
        lineage=_lineage(job, run_id, definition, prepared.digest, prepared.dataset),
        tags=tags,
        description=definition.description,
    )
    return version.version


def run_job(client: Client, job_id: str) -> Outcome:
    """Run job ``job_id`` in this process (its working directory is the scratch folder)."""
    job = client.get_job(job_id)
    client.report_job(job_id, status="RUNNING")
    spec = job.spec
    prepared = prepare(client, job)
    definition = prepared.definition
    params = _params(definition, job)
    run = client.create_run(
        spec.experiment or f"train {definition.name}",
        name=f"{definition.name}-{job.id[:8]}-{job.attempt}",
        params=run_params(params),
        tags={JOB_TAG: job.id, "griffin.attempt": str(job.attempt)},
    )
    ctx = make_context(client, job, prepared, params, run.id)
    try:
        model, _ = train_once(ctx, job, prepared)
        version = register(client, job, prepared, model, ctx, run.id)
    except BaseException as exc:
        reason = exc.reason if isinstance(exc, JobFailed) else str(exc)
        client.end_run(run.id, "FAILED", reason=reason[:500])
        raise
    client.end_run(run.id)
    outcome = Outcome(definition.name, version, run.id)
    client.report_job(
        job_id, result={"model": outcome.model, "version": outcome.version, "run_id": run.id}
    )
    print(f"griffin: registered {outcome.model} version {outcome.version} (run {run.id})")
    return outcome


def main(argv: list[str] | None = None) -> int:
    """``python -m griffin.runtime --job ID``: run one job; the exit status says how it went."""
    parser = argparse.ArgumentParser(prog="python -m griffin.runtime")
    parser.add_argument("--job", default=os.environ.get("GRIFFIN_JOB_ID"), help="the job id")
    parser.add_argument(
        "--record-imports",
        type=Path,
        metavar="PATH",
        help="add the third-party packages this job imported to PATH, so the launcher's next "
        "prestarted process imports them ahead",
    )
    args = parser.parse_args(argv)
    try:
        return _run(args.job, parser)
    finally:
        if args.record_imports is not None:
            from griffin.launcher.prestart import record_imports

            record_imports(args.record_imports)


def _run(job_id: str | None, parser: argparse.ArgumentParser) -> int:
    if not job_id:
        parser.error("give --job ID (or set GRIFFIN_JOB_ID)")
    from griffin.client import Client

    with Client() as client:
        try:
            kind = client.get_job(job_id).spec.kind
            if kind in {"evaluate", "predict"}:
                from griffin.training.batch import run_evaluate, run_predict

                (run_evaluate if kind == "evaluate" else run_predict)(client, job_id)
            elif kind == "sweep":
                from griffin.training.sweeps import run_sweep

                run_sweep(client, job_id)
            else:
                run_job(client, job_id)
        except (JobFailed, GriffinError) as exc:
            reason = exc.reason if isinstance(exc, JobFailed) else exc.headline
            print(f"griffin: job failed: {reason}", file=sys.stderr)
            _report_failure(client, job_id, reason)
            return 1
    return 0


def _report_failure(client: Client, job_id: str, reason: str) -> None:
    try:
        client.report_job(job_id, failure=reason)
    except GriffinError as exc:  # the exit status still tells the dispatcher
        print(f"griffin: could not report the failure: {exc.headline}", file=sys.stderr)
