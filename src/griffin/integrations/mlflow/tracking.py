"""MLflow's tracking endpoints (experiments, runs, metrics) on Griffin's tracking services.

Each handler reads MLflow's request message, applies the checks MLflow's server applies (same
error codes, the same batch limits), and calls the service the Griffin API and CLI use, so a
run logged through MLflow is an ordinary Griffin run.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from typing import Any

from griffin.domain.accounts import Principal
from griffin.domain.ids import new_id
from griffin.domain.search import parse_filter
from griffin.domain.tracking import Experiment, Metric, RunStatus
from griffin.errors import InvalidArgument, NotFound
from griffin.integrations.mlflow import entities
from griffin.integrations.mlflow.protocol import Call, Params, rpc, to_float
from griffin.store import experiments as experiment_store
from griffin.store import logged_models, projects
from griffin.tracking import experiments, runs

__all__: list[str] = []

# MLflow's limits (mlflow/utils/validation.py), enforced here so a batch MLflow refuses is
# refused here too, with its message.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_KEY_LENGTH = 250
MAX_EXPERIMENTS_PER_PAGE = 50_000
_KEY = re.compile(r"[/\w.\- :]*")


# ---------------------------------------------------------------- checks in MLflow's words


def _check_key(key: str, path: str) -> str:
    if not _KEY.fullmatch(key):
        raise InvalidArgument(
            f"Invalid value {key!r} for parameter '{path}' supplied: Names may only contain "
            "alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and "
            "slashes (/).",
            details={"field": path},
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise InvalidArgument(
            f"Invalid value {key!r} for parameter '{path}' supplied: Names may be treated as "
            "files in certain cases, and must not resolve to other names when treated as such. "
            "This name would resolve to " + repr(norm),
            details={"field": path},
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"'{path}' exceeds the maximum length of {MAX_KEY_LENGTH} characters",
            details={"field": path},
        )
    return key


def _check_value(value: str, limit: int, path: str) -> str:
    if len(value) > limit:
        raise InvalidArgument(
            f"'{path}' exceeds the maximum length of {limit} characters",
            details={"field": path},
        )
    return value


def _batch_limit(entity: str, limit: int, length: int) -> None:
    if length > limit:
        raise InvalidArgument(
            f"A batch logging request can contain at most {limit} {entity}. Got {length} "
            f"{entity}. Please split up {entity} across multiple requests and try again.",
            details={"field": entity},
        )


def _metric(item: Mapping[str, Any], path: str) -> Metric:
    def at(name: str) -> str:
        return f"{path}.{name}" if path else name

    entry = Params(item)
    if entry.text("key") is None:
        raise entry.missing(at("key"))
    key = _check_key(entry.required("key"), at("key"))
    raw = item.get("value")
    if raw is None:
        raise entry.missing(at("value"))
    value = to_float(at("value"), raw)
    timestamp = entry.integer("timestamp") if "timestamp" in item else None
    if timestamp is None:
        raise entry.missing(at("timestamp"))
    if timestamp < 0:
        raise InvalidArgument(
            f"Invalid value {timestamp} for parameter '{at('timestamp')}' supplied: metric "
            f"'{key}'. Timestamp must be a nonnegative long (64-bit integer)",
            details={"field": at("timestamp")},
        )
    step = entry.integer("step", 0) or 0
    return Metric(key, value, step, timestamp)


def _metrics(items: list[Mapping[str, Any]]) -> list[Metric]:
    """A batch's metrics. Well-typed points take one cheap check each and each distinct key
    is checked once; anything else goes through :func:`_metric`, which names the problem."""
    out: list[Metric] = []
    keys: set[str] = set()
    for index, item in enumerate(items):
        key = item.get("key")
        value = item.get("value")
        timestamp = item.get("timestamp")
        step = item.get("step", 0)
        if (
            type(key) is str
            and isinstance(value, float | int)
            and type(value) is not bool
            and type(timestamp) is int
            and type(step) is int
            and timestamp >= 0
        ):
            keys.add(key)
            out.append(Metric(key, float(value), step, timestamp))
        else:
            out.append(_metric(item, f"metrics[{index}]"))
    for key in keys:
        _check_key(key, "metrics.key")
    return out


def _params(items: list[Mapping[str, Any]], path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, item in enumerate(items):
        entry = Params(item)
        key = _check_key(entry.required("key"), f"{path}[{index}].key")
        value = entry.text("value", "") or ""
        out[key] = _check_value(value, MAX_PARAM_VALUE_LENGTH, f"{path}[{index}].value")
    return out


def _tags(items: list[Mapping[str, Any]], path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, item in enumerate(items):
        entry = Params(item)
        key = _check_key(entry.required("key"), f"{path}[{index}].key")
        value = entry.text("value", "") or ""
        out[key] = _check_value(value, MAX_TAG_VALUE_LENGTH, f"{path}[{index}].value")
    return out


def _run_id(call: Call) -> str:
    """``run_id``, or ``run_uuid`` from clients before MLflow 1.0."""
    run_id = call.params.text("run_id") or call.params.text("run_uuid")
    if not run_id:
        raise call.params.missing("run_id")
    return run_id


# ---------------------------------------------------------------- experiments


def _experiment_name(call: Call, experiment_id: str) -> str:
    """The Griffin experiment (name or id) an MLflow experiment id stands for."""
    if experiment_id == entities.DEFAULT_EXPERIMENT_ID:
        with call.db.session(write=True) as session:
            experiment_store.ensure(
                session, projects.get_row(session, call.project), entities.DEFAULT_EXPERIMENT_NAME
            )
        return entities.DEFAULT_EXPERIMENT_NAME
    return experiment_id


def _project_id(call: Call) -> str:
    with call.db.session() as session:
        return str(projects.get_row(session, call.project).id)


def _experiment(call: Call, experiment_id: str) -> Experiment:
    try:
        return experiments.get_experiment(
            call.db, call.principal, call.project, _experiment_name(call, experiment_id)
        )
    except NotFound:
        raise NotFound(
            f"No Experiment with id={experiment_id} exists", details={"experiment": experiment_id}
        ) from None


@rpc("POST", "/mlflow/experiments/create")
def create_experiment(call: Call) -> dict[str, Any]:
    name = call.params.required("name")
    tags = _tags(list(call.params.objects("tags")), "tags")
    description = tags.pop("mlflow.note.content", "")
    created = experiments.create_experiment(
        call.db, call.principal, call.project, name, description, tags
    )
    return {"experiment_id": entities.experiment_id(created)}


@rpc("GET", "/mlflow/experiments/get")
def get_experiment(call: Call) -> dict[str, Any]:
    found = _experiment(call, call.params.required("experiment_id"))
    return {"experiment": entities.experiment_json(found, _project_id(call))}


@rpc("GET", "/mlflow/experiments/get-by-name")
def get_experiment_by_name(call: Call) -> dict[str, Any]:
    name = call.params.required("experiment_name")
    try:
        found = experiments.get_experiment(call.db, call.principal, call.project, name)
    except NotFound:
        raise NotFound(
            f"Could not find experiment with name '{name}'", details={"experiment": name}
        ) from None
    return {"experiment": entities.experiment_json(found, _project_id(call))}


# Experiment filters may name attributes without a prefix: ``name LIKE 'a%'``.
_BARE_ATTRIBUTE = re.compile(
    r"(^\s*|\band\s+)(name|creation_time|last_update_time)\b", re.IGNORECASE
)
_VIEW_TYPES = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all"}


def _view_type(call: Call, name: str = "view_type") -> str:
    value = (call.params.text(name) or "ACTIVE_ONLY").upper()
    if value not in _VIEW_TYPES:
        raise InvalidArgument(
            f"Invalid value {value!r} for parameter '{name}' supplied.", details={"field": name}
        )
    return _VIEW_TYPES[value]


def _experiment_matches(experiment: Experiment, comparisons: tuple[Any, ...]) -> bool:
    for c in comparisons:
        if c.entity == "tag":
            actual: Any = experiment.tags.get(c.key)
        elif c.key in {"name", "run_name"}:
            actual = experiment.name
        elif c.key in {"creation_time", "start_time", "created_at"}:
            actual = int(experiment.created_at.timestamp() * 1000)
        elif c.key == "last_update_time":
            actual = int(experiment.updated_at.timestamp() * 1000)
        else:
            raise InvalidArgument(
                f"Invalid attribute key '{c.key}' specified. Valid keys are "
                "'{'name', 'creation_time', 'last_update_time'}'",
                details={"field": "filter"},
            )
        if actual is None or not _compare(actual, c.op, c.value):
            return False
    return True


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if op in {"LIKE", "ILIKE"}:
        pattern = re.escape(str(expected)).replace("%", ".*").replace("_", ".")
        flags = re.IGNORECASE | re.DOTALL if op == "ILIKE" else re.DOTALL
        return re.fullmatch(pattern, str(actual), flags) is not None
    if op in {"IN", "NOT IN"}:
        return (str(actual) in expected) == (op == "IN")
    if isinstance(actual, int) and not isinstance(expected, int | float):
        expected = float(expected)
    return bool(
        {
            "=": actual == expected,
            "!=": actual != expected,
            "<": actual < expected,
            "<=": actual <= expected,
            ">": actual > expected,
            ">=": actual >= expected,
        }[op]
    )


@rpc("POST", "/mlflow/experiments/search")
def search_experiments(call: Call) -> dict[str, Any]:
    max_results = call.params.integer("max_results", 1000) or 1000
    if not 1 <= max_results <= MAX_EXPERIMENTS_PER_PAGE:
        raise InvalidArgument(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at "
            f"most {MAX_EXPERIMENTS_PER_PAGE}",
            details={"field": "max_results"},
        )
    view = _view_type(call)
    comparisons = parse_filter(
        _BARE_ATTRIBUTE.sub(r"\1attributes.\2", call.params.text("filter") or "")
    )
    # A project holds few experiments: they are read in one query and filtered here.
    found: list[Experiment] = []
    cursor: str | None = None
    while True:
        page = experiments.list_experiments(
            call.db,
            call.principal,
            call.project,
            cursor=cursor,
            limit=1000,
            include_deleted=view != "active",
        )
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if view == "deleted":
        found = [e for e in found if e.lifecycle == "deleted"]
    found = [e for e in found if _experiment_matches(e, comparisons)]
    found = _order_experiments(found, call.params.strings("order_by"))
    offset = _offset(call.params.text("page_token"))
    project_id = _project_id(call)
    page_items = found[offset : offset + max_results]
    answer: dict[str, Any] = {
        "experiments": [entities.experiment_json(e, project_id) for e in page_items]
    }
    if offset + max_results < len(found):
        answer["next_page_token"] = str(offset + max_results)
    return answer


def _offset(token: str | None) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidArgument("Invalid page token", details={"field": "page_token"})
    return int(token)


def _order_experiments(found: list[Experiment], order_by: list[str]) -> list[Experiment]:
    keys: dict[str, Callable[[Experiment], Any]] = {
        "name": lambda e: e.name,
        "experiment_id": lambda e: e.id,
        "creation_time": lambda e: e.created_at,
        "last_update_time": lambda e: e.updated_at,
    }
    # MLflow's default: newest first, then id.
    clauses = order_by or ["creation_time DESC"]
    for clause in reversed(clauses):
        parts = clause.split()
        field = parts[0].removeprefix("attributes.").removeprefix("attribute.") if parts else ""
        direction = parts[1].upper() if len(parts) > 1 else "ASC"
        if field not in keys or direction not in {"ASC", "DESC"} or len(parts) > 2:
            raise InvalidArgument(
                f"Invalid order_by clause '{clause}'. Order by name, experiment_id, "
                "creation_time or last_update_time, optionally followed by ASC or DESC",
                details={"field": "order_by"},
            )
        found = sorted(found, key=keys[field], reverse=direction == "DESC")
    return found


@rpc("POST", "/mlflow/experiments/update")
def update_experiment(call: Call) -> dict[str, Any]:
    experiment_id = call.params.required("experiment_id")
    new_name = call.params.text("new_name")
    if new_name is not None:
        experiments.update_experiment(
            call.db,
            call.principal,
            call.project,
            _experiment(call, experiment_id).name,
            new_name=new_name,
        )
    return {}


@rpc("POST", "/mlflow/experiments/delete")
def delete_experiment(call: Call) -> dict[str, Any]:
    experiment_id = call.params.required("experiment_id")
    if experiment_id == entities.DEFAULT_EXPERIMENT_ID:
        raise InvalidArgument(
            "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
            details={"field": "experiment_id"},
        )
    name = _experiment(call, experiment_id).name
    experiments.delete_experiment(call.db, call.principal, call.project, name)
    return {}


@rpc("POST", "/mlflow/experiments/restore")
def restore_experiment(call: Call) -> dict[str, Any]:
    name = _experiment(call, call.params.required("experiment_id")).name
    experiments.restore_experiment(call.db, call.principal, call.project, name)
    return {}


@rpc("POST", "/mlflow/experiments/set-experiment-tag")
def set_experiment_tag(call: Call) -> dict[str, Any]:
    experiment = _experiment(call, call.params.required("experiment_id"))
    key = _check_key(call.params.required("key"), "key")
    value = call.params.text("value", "") or ""
    if key == "mlflow.note.content":
        experiments.update_experiment(
            call.db, call.principal, call.project, experiment.name, description=value
        )
    else:
        experiments.update_experiment(
            call.db, call.principal, call.project, experiment.name, tags={key: value}
        )
    return {}


@rpc("POST", "/mlflow/experiments/delete-experiment-tag")
def delete_experiment_tag(call: Call) -> dict[str, Any]:
    experiment = _experiment(call, call.params.required("experiment_id"))
    key = call.params.required("key")
    experiments.delete_experiment_tag(call.db, call.principal, call.project, experiment.name, key)
    return {}


# ---------------------------------------------------------------- runs


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
    tags = _tags(list(call.params.objects("tags")), "tags")
    name = call.params.text("run_name") or tags.get("mlflow.runName") or f"run-{new_id()[:8]}"
    # MLflow code searches and renames runs through this tag: keep it equal to the name.
    tags["mlflow.runName"] = name
    # Kept as a tag too: MLflow code searches runs by `tags.mlflow.parentRunId`.
    parent = tags.get("mlflow.parentRunId") or None
    experiment = _experiment(call, experiment_id)
    run = runs.create_run(
        call.db,
        _creator(call),
        call.project,
        experiment.name,
        name=name,
        tags=tags,
        parent_run_id=parent,
        artifact_root=call.platform.settings.resolved_artifact_root,
    )
    return {"run": entities.run_json(run)}


_STATUSES = {s.value for s in RunStatus}


@rpc("POST", "/mlflow/runs/update")
def update_run(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
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
    run = runs.get_run(call.db, call.principal, _run_id(call))
    with call.db.session() as session:
        outputs = logged_models.outputs_of(session, run.id)
    return {"run": entities.run_json(run, outputs)}


@rpc("POST", "/mlflow/runs/delete")
def delete_run(call: Call) -> dict[str, Any]:
    runs.delete_run(call.db, call.principal, _run_id(call))
    return {}


@rpc("POST", "/mlflow/runs/restore")
def restore_run(call: Call) -> dict[str, Any]:
    runs.restore_run(call.db, call.principal, _run_id(call))
    return {}


@rpc("POST", "/mlflow/runs/log-metric")
def log_metric(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    metric = _metric(call.params.values, "")
    runs.log_batch(call.db, call.principal, run_id, metrics=[metric])
    return {}


@rpc("POST", "/mlflow/runs/log-parameter")
def log_param(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    params = _params([call.params.values], "params")
    runs.log_batch(call.db, call.principal, run_id, params=params)
    return {}


@rpc("POST", "/mlflow/runs/set-tag")
def set_tag(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    tags = _tags([call.params.values], "tags")
    if "mlflow.runName" in tags:
        runs.update_run(call.db, call.principal, run_id, name=tags["mlflow.runName"])
    runs.log_batch(call.db, call.principal, run_id, tags=tags)
    return {}


@rpc("POST", "/mlflow/runs/delete-tag")
def delete_tag(call: Call) -> dict[str, Any]:
    runs.delete_tag(call.db, call.principal, _run_id(call), call.params.required("key"))
    return {}


@rpc("POST", "/mlflow/runs/log-batch")
def log_batch(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    raw_metrics = call.params.objects("metrics")
    raw_params = call.params.objects("params")
    raw_tags = call.params.objects("tags")
    _batch_limit("metrics", MAX_METRICS_PER_BATCH, len(raw_metrics))
    _batch_limit("params", MAX_PARAMS_TAGS_PER_BATCH, len(raw_params))
    _batch_limit("tags", MAX_PARAMS_TAGS_PER_BATCH, len(raw_tags))
    _batch_limit(
        "metrics, params, and tags",
        MAX_ENTITIES_PER_BATCH,
        len(raw_metrics) + len(raw_params) + len(raw_tags),
    )
    metrics = _metrics(list(raw_metrics))
    params = _params(list(raw_params), "params")
    tags = _tags(list(raw_tags), "tags")
    if "mlflow.runName" in tags:
        runs.update_run(call.db, call.principal, run_id, name=tags["mlflow.runName"])
    runs.log_batch(call.db, call.principal, run_id, metrics=metrics, params=params, tags=tags)
    return {}


@rpc("POST", "/mlflow/runs/log-inputs")
def log_inputs(call: Call) -> dict[str, Any]:
    """Datasets a run used, kept as ``mlflow.dataset.<name>`` run tags (Griffin's own
    lineage is the training dataset a job records)."""
    run_id = _run_id(call)
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
        tags[_check_key(f"mlflow.dataset.{_safe_name(name)}", "datasets")] = value[:8000]
    if tags:
        runs.log_batch(call.db, call.principal, run_id, tags=tags)
    return {}


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.\- ]", "_", name).strip(". ") or "dataset"


@rpc("GET", "/mlflow/metrics/get-history")
def get_metric_history(call: Call) -> dict[str, Any]:
    run_id = _run_id(call)
    key = call.params.required("metric_key")
    points = runs.get_metric_history(call.db, call.principal, run_id, key)
    max_results = call.params.integer("max_results")
    offset = _offset(call.params.text("page_token"))
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
    names = [_experiment(call, i).id for i in ids]
    view = _view_type(call, "run_view_type")
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
