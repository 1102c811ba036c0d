"""What runs inside ``evaluate`` and ``predict`` jobs (``griffin evaluate|predict``).

Both name the registered version in ``params["ref"]``. An evaluate job scores the saved
dataset in ``data`` (and stores the metrics, like ``griffin evaluate``). A predict job reads
the entity rows in ``data["entity_rows"]`` (a file or a SQL query), builds the model's inputs
as of ``params["as_of"]`` (or the rows' own times, or now), predicts ``params["chunk_size"]``
rows at a time (on the job's Ray cluster with Ray Data when its backend is ``ray``) and writes
``params["output"]`` (see :mod:`griffin.training.batch_predict`). Paths are read and written
by the job's process, so they must exist where the job runs; it works in ``params["cwd"]``
(where ``griffin predict`` ran) when that folder exists there, so relative paths in a query
or in the feature views' sources mean what they meant to the user.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    from griffin.client import Client

__all__ = ["run_evaluate", "run_predict"]


def _ref(params: dict[str, Any]) -> str:
    ref = params.get("ref")
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument("this job names no model version: params.ref is missing")
    return ref


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def run_evaluate(client: Client, job_id: str) -> dict[str, Any]:
    """Run evaluate job ``job_id``; returns (and reports) its result."""
    job = client.get_job(job_id)
    client.report_job(job_id, status="RUNNING")
    params = dict(job.spec.params)
    data = job.spec.data
    if "dataset" not in data:
        raise InvalidArgument("an evaluate job needs a saved dataset in data.dataset")
    result = client.evaluate_model(
        _ref(params),
        dataset=str(data["dataset"]),
        dataset_version=data.get("version"),
        target=_text(params.get("target")),
        task=_text(params.get("task")),
        store=bool(params.get("store", True)),
    )
    print(
        f"griffin: {result.name} v{result.version} on {result.dataset} v{result.dataset_version}"
        f" ({result.rows} rows): "
        + ", ".join(f"{k}={v:.6g}" for k, v in sorted(result.metrics.items())),
        flush=True,
    )
    report = {
        "model": result.name,
        "version": result.version,
        "metrics": result.metrics,
        "task": result.task,
        "rows": result.rows,
        "run_id": result.run_id,
    }
    client.report_job(job_id, result=report)
    return report


def run_predict(client: Client, job_id: str) -> dict[str, Any]:
    """Run predict job ``job_id``; returns (and reports) its result."""
    from griffin.training.batch_inputs import parse_as_of
    from griffin.training.batch_predict import (
        DEFAULT_CHUNK_SIZE,
        BatchRequest,
        Scorer,
        local_scores,
        predict_to_file,
        progress_printer,
    )

    job = client.get_job(job_id)
    client.report_job(job_id, status="RUNNING")
    params = dict(job.spec.params)
    source = job.spec.data.get("entity_rows")
    output = params.get("output")
    if not isinstance(source, str) or not isinstance(output, str) or not output:
        raise InvalidArgument("a predict job needs its rows in data.entity_rows and params.output")
    cwd = params.get("cwd")
    if isinstance(cwd, str) and Path(cwd).is_dir():
        os.chdir(cwd)
    online = params.get("online_features")
    request = BatchRequest(
        ref=_ref(params),
        entities=source,
        as_of=parse_as_of(_text(params.get("as_of"))),
        chunk_size=int(params.get("chunk_size") or DEFAULT_CHUNK_SIZE),
        online_features=None if online is None else bool(online),
    )
    scores: Scorer = local_scores
    if job.spec.backend == "ray":
        from griffin.training.batch_ray import ray_scorer

        resources = job.spec.resources
        scores = ray_scorer(workers=resources.workers, cpus=resources.cpus)
    print(f"griffin: job {job_id}: predicting {request.ref} for {_describe(source)}", flush=True)
    result = predict_to_file(
        client,
        request,
        Path(output),
        scores=scores,
        progress=progress_printer(),
        job_id=job_id,
    )
    when = {
        "given": "the rows' own input columns",
        "point-in-time": "features as of each row's event time",
        "online": "features from the online store",
        "latest": f"the newest features, as of {result.as_of}",
    }.get(result.features, f"features as of {result.as_of}")
    print(
        f"griffin: wrote {result.rows} predictions of {result.model} v{result.version} to "
        f"{output} ({when})",
        flush=True,
    )
    if result.rows_without_features:
        print(
            f"griffin: {result.rows_without_features} rows had no fresh feature value (none "
            "at that time, or older than the view's ttl)",
            flush=True,
        )
    report = result.to_json()
    client.report_job(job_id, result=report)
    return report


def _describe(source: str) -> str:
    text = " ".join(source.split())
    return text if len(text) <= 80 else text[:77] + "..."
