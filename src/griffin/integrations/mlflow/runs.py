"""MLflow's run, metric and run-search endpoints on Griffin's runs (``griffin.tracking.runs``):
a run logged through MLflow is an ordinary Griffin run."""

from __future__ import annotations

import re
from typing import Any

from griffin.domain.accounts import Principal
from griffin.domain.ids import new_id
from griffin.domain.tracking import RunStatus
from griffin.errors import InvalidArgument
from griffin.integrations.mlflow import checks, entities
from griffin.integrations.mlflow.experiments import experiment_of
from griffin.integrations.mlflow.protocol import Call, rpc
from griffin.store import logged_models
from griffin.tracking import runs

__all__: list[str] = []


def _creator(call: Call) -> Principal:
    """Who a new run is recorded as: the token's user, or the client's ``user_id`` on an open
    server (where the caller is the server's local user either way)."""
    user = call.params.text("user_id")
    if call.principal.token_id is None and user:
        return Principal(user=user[:128], project=call.principal.project, role=call.principal.role)
    return call.principal


@rpc("POST", "/mlflow/runs/create")
def create_run(call: Call) -> dict[str, Any]:
    experiment_id = call.params.text("experiment_id") or entities.DEFAULT_EXPERIMENT_ID
    tags = checks.tags(list(call.params.objects("tags")), "tags")
    name = call.params.text("run_name") or tags.get("mlflow.runName") or f"run-{new_id()[:8]}"
    # MLflow code searches and renames runs through this tag: keep it equal to the name.
    tags["mlflow.runName"] = name
    # Kept as a tag too: MLflow code searches runs by `tags.mlflow.parentRunId`.
    parent = tags.get("mlflow.parentRunId") or None
    # One transaction: the experiment is found by id as the run is created.
    default = experiment_id == entities.DEFAULT_EXPERIMENT_ID
    run = runs.create_run(
        call.db,
        _creator(call),
        call.project,
        entities.DEFAULT_EXPERIMENT_NAME if default else experiment_id,
        name=name,
        tags=tags,
        parent_run_id=parent,
        artifact_root=call.platform.settings.resolved_artifact_root,
        by_id=not default,
    )
    return {"run": entities.run_json(run)}


_STATUSES = {s.value for s in RunStatus}


@rpc("POST", "/mlflow/runs/update")
def update_run(call: Call) -> dict[str, Any]:
    run_id = checks.run_id(call)
    status_text = call.params.text("status")
    name = call.params.text("run_name") or None
    status: RunStatus | None = None
    if status_text is not None:
        if status_text not in _STATUSES:
            raise InvalidArgument(
                f"Invalid value {status_text!r} for parameter 'status' supplied.",
                details={"field": "status"},
            )
        status = RunStatus(status_text)
    current = runs.get_run(call.db, call.principal, run_id)
    if status == current.status:
        status = None
    elif status is not None and current.status.is_terminal:
        # MLflow lets any status follow any other; Griffin records the reopening first.
        runs.resume_run(call.db, call.principal, run_id)
        if status is RunStatus.RUNNING:
            status = None
    run = runs.update_run(call.db, call.principal, run_id, status=status, name=name)
    if name is not None:
        runs.log_batch(call.db, call.principal, run_id, tags={"mlflow.runName": name})
    return {"run_info": entities.run_info_json(run)}


@rpc("GET", "/mlflow/runs/get")
def get_run(call: Call) -> dict[str, Any]:
    run = runs.get_run(call.db, call.principal, checks.run_id(call))
    with call.db.session() as session:
        outputs = logged_models.outputs_of(session, run.id)
    return {"run": entities.run_json(run, outputs)}


@rpc("POST", "/mlflow/runs/delete")
def delete_run(call: Call) -> dict[str, Any]:
    runs.delete_run(call.db, call.principal, checks.run_id(call))
    return {}


@rpc("POST", "/mlflow/runs/restore")
def restore_run(call: Call) -> dict[str, Any]:
    runs.restore_run(call.db, call.principal, checks.run_id(call))
    return {}


@rpc("POST", "/mlflow/runs/log-metric")
def log_metric(call: Call) -> dict[str, Any]:
    run_id = checks.run_id(call)
    metric = checks.metric(call.params.values, "")
    runs.log_batch(call.db, call.principal, run_id, metrics=[metric])
    return {}


@rpc("POST", "/mlflow/runs/log-parameter")
def log_param(call: Call) -> dict[str, Any]:
    run_id = checks.run_id(call)
    params = checks.params([call.params.values], "params")
    runs.log_batch(call.db, call.principal, run_id, params=params)
    return {}


@rpc("POST", "/mlflow/runs/set-tag")
def set_tag(call: Call) -> dict[str, Any]:
    run_id = checks.run_id(call)
    tags = checks.tags([call.params.values], "tags")
    if "mlflow.runName" in tags:
        runs.update_run(call.db, call.principal, run_id, name=tags["mlflow.runName"])
    runs.log_batch(call.db, call.principal, run_id, tags=tags)
    return {}


@rpc("POST", "/mlflow/runs/delete-tag")
def delete_tag(call: Call) -> dict[str, Any]:
    runs.delete_tag(call.db, call.principal, checks.run_id(call), call.params.required("key"))
    return {}


@rpc("POST", "/mlflow/runs/log-batch")
def log_batch(call: Call) -> dict[str, Any]:
    run_id = checks.run_id(call)
    raw_metrics = call.params.objects("metrics")
    raw_params = call.params.objects("params")
    raw_tags = call.params.objects("tags")
    checks.batch_limit("metrics", checks.MAX_METRICS_PER_BATCH, len(raw_metrics))
    checks.batch_limit("params", checks.MAX_PARAMS_TAGS_PER_BATCH, len(raw_params))
    checks.batch_limit("tags", checks.MAX_PARAMS_TAGS_PER_BATCH, len(raw_tags))
    checks.batch_limit(
        "metrics, params, and tags",
        checks.MAX_ENTITIES_PER_BATCH,
        len(raw_metrics) + len(raw_params) + len(raw_tags),
    )
    metrics = checks.metrics(list(raw_metrics))
    params = checks.params(list(raw_params), "params")
    tags = checks.tags(list(raw_tags), "tags")
    if "mlflow.runName" in tags:
        runs.update_run(call.db, call.principal, run_id, name=tags["mlflow.runName"])
    runs.log_batch(call.db, call.principal, run_id, metrics=metrics, params=params, tags=tags)
    return {}


@rpc("POST", "/mlflow/runs/log-inputs")
def log_inputs(call: Call) -> dict[str, Any]:
    """Datasets a run used, kept as ``mlflow.dataset.<name>`` run tags (Griffin's own
    lineage is the training dataset a job records)."""
    run_id = checks.run_id(call)
    tags: dict[str, str] = {}
    for item in call.params.objects("datasets"):
        dataset = item.get("dataset")
        if not isinstance(dataset, dict) or not dataset.get("name"):
            raise InvalidArgument(
                "each dataset input needs a dataset with a name", details={"field": "datasets"}
            )
        name = str(dataset["name"])[:200]
        summary = {k: dataset.get(k) for k in ("digest", "source_type", "source") if dataset.get(k)}
        context = [t.get("value") for t in item.get("tags") or [] if isinstance(t, dict)]
        value = ", ".join(f"{k}={v}" for k, v in summary.items())
        if context:
            value += f" ({', '.join(str(c) for c in context)})"
        tags[checks.check_key(f"mlflow.dataset.{_safe_name(name)}", "datasets")] = value[:8000]
    if tags:
        runs.log_batch(call.db, call.principal, run_id, tags=tags)
    return {}


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.\- ]", "_", name).strip(". ") or "dataset"


@rpc("GET", "/mlflow/metrics/get-history")
def get_metric_history(call: Call) -> dict[str, Any]:
    run_id = checks.run_id(call)
    key = call.params.required("metric_key")
    points = runs.get_metric_history(call.db, call.principal, run_id, key)
    max_results = call.params.integer("max_results")
    offset = checks.offset(call.params.text("page_token"))
    if max_results is None:
        page = points[offset:]
        more = False
    else:
        page = points[offset : offset + max_results]
        more = offset + max_results < len(points)
    answer: dict[str, Any] = {"metrics": [entities.metric_json(m) for m in page]}
    if more:
        answer["next_page_token"] = str(offset + len(page))
    return answer


@rpc("POST", "/mlflow/runs/search")
def search_runs(call: Call) -> dict[str, Any]:
    ids = call.params.strings("experiment_ids")
    names = [experiment_of(call, i).id for i in ids]
    view = checks.view_type(call, "run_view_type")
    max_results = call.params.integer("max_results", 1000) or 1000
    page = runs.search_runs(
        call.db,
        call.principal,
        call.project,
        experiments_=names,
        filter_=call.params.text("filter") or None,
        order_by=call.params.strings("order_by") or None,
        limit=max_results,
        cursor=call.params.text("page_token") or None,
        include_deleted=view == "all",
        only_deleted=view == "deleted",
    )
    answer: dict[str, Any] = {"runs": [entities.run_json(r) for r in page.items]}
    if page.next_cursor:
        answer["next_page_token"] = page.next_cursor
    return answer


@rpc("GET", "/mlflow/server-info")
def server_info(call: Call) -> dict[str, Any]:
    """What the client asks before artifact transfers. Multipart is off by default: one
    streamed PUT passes over the bytes once; ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true`` still
    opts in. Downloads are never multipart (no presigned URLs)."""
    return {
        "store_type": "SqlStore",
        "workspaces_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }
