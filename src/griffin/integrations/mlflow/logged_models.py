"""MLflow 3's logged models (``/mlflow/logged-models``) and the run outputs that name them.

MLflow 3's ``log_model`` creates a logged model (PENDING), uploads its files to the model's
``artifact_location``, links it to the run (``runs/outputs``) and finalizes it (READY). Griffin
keeps files in runs, so a logged model's ``artifact_location`` is a folder of its run's
artifacts, ``logged_models/<model_id>``; a model logged outside any run gets a FINISHED run of
its own, named after it, to hold the files. Registering ``models:/<model_id>`` then registers
that run folder (see :mod:`griffin.integrations.mlflow.registry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from griffin.domain.accounts import Role
from griffin.domain.search import Comparison, Fields, parse_filter
from griffin.domain.tracking import RunStatus
from griffin.domain.validation import MAX_NAME_LENGTH, check_params, check_tags
from griffin.errors import InvalidArgument, NotFound
from griffin.integrations.mlflow import filters
from griffin.integrations.mlflow.entities import (
    ARTIFACTS_SCHEME,
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    key_values,
)
from griffin.integrations.mlflow.protocol import Call, Params, ms, rpc
from griffin.store import experiments, projects, runs
from griffin.store import logged_models as store
from griffin.store.logged_models import LoggedModel, LoggedModelStatus
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.logged_models import LoggedModelRow
from griffin.store.orm.tracking import ExperimentRow
from griffin.tracking import runs as run_service
from griffin.tracking.runs import artifact_prefix

__all__ = ["artifact_location", "logged_model_json"]

_STATUS_NAMES = {
    LoggedModelStatus.PENDING: "LOGGED_MODEL_PENDING",
    LoggedModelStatus.READY: "LOGGED_MODEL_READY",
    LoggedModelStatus.FAILED: "LOGGED_MODEL_UPLOAD_FAILED",
}
# The enum as JSON names it, as its number, or as the client's LoggedModelStatus prints it.
_STATUSES = {
    **{name: status for status, name in _STATUS_NAMES.items()},
    **{str(status): status for status in LoggedModelStatus},
    "UPLOAD_FAILED": LoggedModelStatus.FAILED,
    "1": LoggedModelStatus.PENDING,
    "2": LoggedModelStatus.READY,
    "3": LoggedModelStatus.FAILED,
}
_FILTER_ATTRIBUTES = {
    "name": "name",
    "model_id": "model_id",
    "model_type": "model_type",
    "status": "status",
    "source_run_id": "source_run_id",
    "creation_timestamp": "creation_timestamp",
    "creation_time": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
}
_TIMES = frozenset({"creation_timestamp", "last_updated_timestamp"})
_SEARCH_FIELDS = Fields(
    attributes=_FILTER_ATTRIBUTES,
    numeric=_TIMES,
    entities=frozenset({"tag", "param", "metric"}),
    bare=True,
    quoted_numbers=True,
)
_COLUMNS: dict[str, Any] = {
    "name": LoggedModelRow.name,
    "model_id": LoggedModelRow.id,
    "model_type": LoggedModelRow.model_type,
    "status": LoggedModelRow.status,
    "source_run_id": LoggedModelRow.run_id,
    "creation_timestamp": LoggedModelRow.created_at,
    "creation_time": LoggedModelRow.created_at,
    "last_updated_timestamp": LoggedModelRow.updated_at,
}
MAX_SEARCH_RESULTS = 1000


def artifact_location(project_id: str, run_id: str, path: str) -> str:
    """A folder of a run's artifacts as the MLflow client reaches it: the server's proxy."""
    folder = f"{ARTIFACTS_SCHEME}{artifact_prefix(project_id, run_id)}"
    return f"{folder}/{path}" if path else folder


def logged_model_json(model: LoggedModel) -> dict[str, Any]:
    experiment_id = (
        DEFAULT_EXPERIMENT_ID
        if model.experiment == DEFAULT_EXPERIMENT_NAME
        else model.experiment_id
    )
    info = {
        "model_id": model.id,
        "experiment_id": experiment_id,
        "name": model.name,
        "creation_timestamp_ms": ms(model.created_at),
        "last_updated_timestamp_ms": ms(model.updated_at),
        "artifact_uri": artifact_location(model.project_id, model.run_id, model.path),
        "status": _STATUS_NAMES[model.status],
        "model_type": model.model_type,
        "source_run_id": model.run_id,
        "status_message": model.status_message,
        "tags": key_values(model.tags),
    }
    return {"info": info, "data": {"params": key_values(model.params), "metrics": []}}


def _experiment(session: Any, project: ProjectRow, experiment_id: str) -> ExperimentRow:
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        return experiments.ensure(session, project, DEFAULT_EXPERIMENT_NAME)
    return experiments.get_row(session, project, experiment_id)


def _checked(params: Params) -> tuple[dict[str, str], dict[str, str]]:
    tags, values = params.key_values("tags"), params.key_values("params")
    return check_tags(tags), check_params(values)


def _holder_run(call: Call, experiment_id: str, name: str) -> str:
    """A FINISHED run to hold the files of a model logged outside any run."""
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        experiment = (
            DEFAULT_EXPERIMENT_NAME
            if experiment_id == DEFAULT_EXPERIMENT_ID
            else experiments.get_row(session, project, experiment_id).name
        )
    run = run_service.create_run(
        call.db,
        call.principal,
        call.project,
        experiment,
        name=name,
        artifact_root=call.platform.settings.resolved_artifact_root,
    )
    run_service.update_run(call.db, call.principal, run.id, status=RunStatus.FINISHED)
    return run.id


@rpc("POST", "/mlflow/logged-models")
def create_logged_model(call: Call) -> Mapping[str, Any]:
    call.principal.require(Role.EDITOR, call.project)
    p = call.params
    experiment_id = p.required("experiment_id")
    name = p.text("name") or f"model-{store.new_model_id()[2:10]}"
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(
            f"model name is longer than {MAX_NAME_LENGTH} characters", details={"field": "name"}
        )
    tags, params = _checked(p)
    run_id = p.text("source_run_id") or _holder_run(call, experiment_id, name)
    with call.db.session(write=True) as session:
        project = projects.get_row(session, call.project)
        experiment = _experiment(session, project, experiment_id)
        run = runs.get_row(session, run_id)
        if run.project_id != project.id:
            raise NotFound(f"run {run_id} does not exist", details={"run_id": run_id})
        model = store.insert(
            session,
            project,
            experiment,
            run.id,
            name=name,
            model_type=p.text("model_type", "") or "",
            tags=tags,
            params=params,
            user=call.principal.user,
        )
    return {"model": logged_model_json(model)}


def _model_id(call: Call) -> str:
    return str(call.request.path_params["model_id"])


@rpc("GET", "/mlflow/logged-models/{model_id}")
def get_logged_model(call: Call) -> Mapping[str, Any]:
    call.principal.require(Role.VIEWER, call.project)
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        return {"model": logged_model_json(store.get(session, project, _model_id(call)))}


def _update(call: Call, change: Any) -> LoggedModel:
    """Apply ``change(row)`` to the model of the request path, in one write transaction."""
    call.principal.require(Role.EDITOR, call.project)
    with call.db.session(write=True) as session:
        project = projects.get_row(session, call.project)
        row = store.get_row(session, project, _model_id(call), for_update=True)
        change(row)
        row.updated_at = utcnow()
        session.flush()
        return store.to_domain(row, store.experiment_name(session, row.experiment_id))


@rpc("PATCH", "/mlflow/logged-models/{model_id}")
def finalize_logged_model(call: Call) -> Mapping[str, Any]:
    raw = call.params.required("status")
    status = _STATUSES.get(raw.upper())
    if status not in (LoggedModelStatus.READY, LoggedModelStatus.FAILED):
        raise InvalidArgument(
            f"Invalid value {raw[:40]!r} for parameter 'status': a logged model is finalized "
            "as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED",
            details={"field": "status"},
        )

    def finalize(row: LoggedModelRow) -> None:
        row.status = str(status)

    return {"model": logged_model_json(_update(call, finalize))}


@rpc("DELETE", "/mlflow/logged-models/{model_id}")
def delete_logged_model(call: Call) -> Mapping[str, Any]:
    """Forget the model; its files stay in its run, so versions registered from it still load."""
    call.principal.require(Role.EDITOR, call.project)
    with call.db.session(write=True) as session:
        project = projects.get_row(session, call.project)
        session.delete(store.get_row(session, project, _model_id(call), for_update=True))
    return {}


@rpc("PATCH", "/mlflow/logged-models/{model_id}/tags")
def set_logged_model_tags(call: Call) -> Mapping[str, Any]:
    tags = check_tags(call.params.key_values("tags"))

    def merge(row: LoggedModelRow) -> None:
        row.tags = {**(row.tags or {}), **tags}

    _update(call, merge)
    return {}


@rpc("DELETE", "/mlflow/logged-models/{model_id}/tags/{tag_key:path}")
def delete_logged_model_tag(call: Call) -> Mapping[str, Any]:
    key = str(call.request.path_params["tag_key"])

    def remove(row: LoggedModelRow) -> None:
        if key not in (row.tags or {}):
            raise NotFound(
                f"No tag with key {key[:80]!r} found for logged model {row.id}",
                details={"key": key[:80]},
            )
        row.tags = {k: v for k, v in row.tags.items() if k != key}

    _update(call, remove)
    return {}


@rpc("POST", "/mlflow/logged-models/{model_id}/params")
def log_logged_model_params(call: Call) -> Mapping[str, Any]:
    params = check_params(call.params.key_values("params"))

    def merge(row: LoggedModelRow) -> None:
        row.params = {**(row.params or {}), **params}

    _update(call, merge)
    return {}


def _status(name: str) -> str:
    """A status as stored, from any of its spellings (READY, LOGGED_MODEL_READY, 2)."""
    return str(_STATUSES.get(name.upper(), name))


def _where(clause: Comparison) -> Any:
    if clause.entity == "metric":
        raise InvalidArgument(
            "Griffin does not link metrics to logged models: filter on the run's metrics with "
            "search_runs instead",
            details={"field": "filter"},
        )
    if clause.entity in ("tag", "param"):
        column = LoggedModelRow.tags if clause.entity == "tag" else LoggedModelRow.params
        return filters.key_condition(column, clause)
    value: object = clause.value
    if clause.key in _TIMES:
        value = filters.timestamp(value)
    elif clause.key == "status" and isinstance(value, str):
        value = _status(value)
    elif clause.key == "status" and isinstance(value, tuple):
        value = tuple(_status(v) for v in value)
    return filters.condition(_COLUMNS[clause.key], clause.op, value)


def _order(items: list[Mapping[str, Any]]) -> list[Any]:
    clauses = []
    for item in items:
        entry = Params(item)
        field = entry.required("field_name")
        clauses.append(f"{field} {'ASC' if entry.flag('ascending', True) else 'DESC'}")
    return filters.order_by(clauses, _COLUMNS)


@rpc("POST", "/mlflow/logged-models/search")
def search_logged_models(call: Call) -> Mapping[str, Any]:
    call.principal.require(Role.VIEWER, call.project)
    p = call.params
    clauses = parse_filter(p.text("filter"), fields=_SEARCH_FIELDS)
    where = [_where(c) for c in clauses]
    order = _order(list(p.objects("order_by")))
    limit = filters.max_results(p.integer("max_results"), 100, MAX_SEARCH_RESULTS)
    start = filters.offset(p.text("page_token"))
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        ids = []
        for experiment_id in p.strings("experiment_ids"):
            if experiment_id == DEFAULT_EXPERIMENT_ID:
                found = experiments.find_row(session, project, DEFAULT_EXPERIMENT_NAME)
                ids += [found.id] if found is not None else []
            else:
                ids.append(experiments.get_row(session, project, experiment_id).id)
        found_models = store.search(
            session, project, ids, where, order, start=start, limit=limit + 1
        )
    more = len(found_models) > limit
    found_models = found_models[:limit]
    return {
        "models": [logged_model_json(m) for m in found_models],
        "next_page_token": filters.next_token(start, len(found_models), more),
    }


@rpc("POST", "/mlflow/runs/outputs")
def log_outputs(call: Call) -> Mapping[str, Any]:
    """Link logged models to the run that produced them (``log_model`` calls it)."""
    call.principal.require(Role.EDITOR, call.project)
    run_id = call.params.required("run_id")
    outputs = [
        (Params(m).required("model_id"), Params(m).integer("step", 0) or 0)
        for m in call.params.objects("models")
    ]
    with call.db.session(write=True) as session:
        project = projects.get_row(session, call.project)
        run = runs.get_row(session, run_id)
        if run.project_id != project.id:
            raise NotFound(f"run {run_id} does not exist", details={"run_id": run_id})
        for model_id, step in outputs:
            row = store.get_row(session, project, model_id, for_update=True)
            if row.run_id == run.id:
                row.step = step
    return {}
