"""MLflow's experiment endpoints on Griffin's experiments (``griffin.tracking.experiments``).

MLflow's experiment ``0`` is the project's experiment named ``Default``; other ids are
Griffin's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from griffin.domain.search import Comparison, Fields, parse_filter
from griffin.domain.tracking import Experiment
from griffin.errors import InvalidArgument, NotFound
from griffin.integrations.mlflow import checks, entities
from griffin.integrations.mlflow.protocol import Call, rpc
from griffin.store import experiments as experiment_store
from griffin.store import projects
from griffin.tracking import experiments as service

__all__ = ["experiment_of"]


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


def experiment_of(call: Call, experiment_id: str) -> Experiment:
    try:
        return service.get_experiment(
            call.db, call.principal, call.project, _experiment_name(call, experiment_id)
        )
    except NotFound:
        raise NotFound(
            f"No Experiment with id={experiment_id} exists", details={"experiment": experiment_id}
        ) from None


@rpc("POST", "/mlflow/experiments/create")
def create_experiment(call: Call) -> dict[str, Any]:
    name = call.params.required("name")
    tags = checks.tags(list(call.params.objects("tags")), "tags")
    description = tags.pop("mlflow.note.content", "")
    created = service.create_experiment(
        call.db, call.principal, call.project, name, description, tags
    )
    return {"experiment_id": entities.experiment_id(created)}


@rpc("GET", "/mlflow/experiments/get")
def get_experiment(call: Call) -> dict[str, Any]:
    found = experiment_of(call, call.params.required("experiment_id"))
    return {"experiment": entities.experiment_json(found, _project_id(call))}


@rpc("GET", "/mlflow/experiments/get-by-name")
def get_experiment_by_name(call: Call) -> dict[str, Any]:
    name = call.params.required("experiment_name")
    try:
        found = service.get_experiment(call.db, call.principal, call.project, name)
    except NotFound:
        raise NotFound(
            f"Could not find experiment with name '{name}'", details={"experiment": name}
        ) from None
    return {"experiment": entities.experiment_json(found, _project_id(call))}


# MLflow's experiment attributes, which may be named without a prefix: ``name LIKE 'a%'``; the
# run-style aliases were accepted when these filters were parsed as run filters, and still are.
_SEARCH_FIELDS = Fields(
    attributes={
        **{name: name for name in ("name", "creation_time", "last_update_time")},
        "run_name": "name",
        "start_time": "creation_time",
        "created_at": "creation_time",
    },
    numeric=frozenset({"creation_time", "last_update_time"}),
    bare=True,
)


def _experiment_matches(experiment: Experiment, comparisons: tuple[Comparison, ...]) -> bool:
    for c in comparisons:
        actual: Any
        if c.entity == "tag":
            actual = experiment.tags.get(c.key)
        elif c.key == "name":
            actual = experiment.name
        elif c.key == "creation_time":
            actual = int(experiment.created_at.timestamp() * 1000)
        else:  # last_update_time
            actual = int(experiment.updated_at.timestamp() * 1000)
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
    if not 1 <= max_results <= checks.MAX_EXPERIMENTS_PER_PAGE:
        raise InvalidArgument(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at "
            f"most {checks.MAX_EXPERIMENTS_PER_PAGE}",
            details={"field": "max_results"},
        )
    view = checks.view_type(call)
    comparisons = parse_filter(call.params.text("filter"), fields=_SEARCH_FIELDS)
    # A project holds few experiments: they are read in one query and filtered here.
    found: list[Experiment] = []
    cursor: str | None = None
    while True:
        page = service.list_experiments(
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
    offset = checks.offset(call.params.text("page_token"))
    project_id = _project_id(call)
    page_items = found[offset : offset + max_results]
    answer: dict[str, Any] = {
        "experiments": [entities.experiment_json(e, project_id) for e in page_items]
    }
    if offset + max_results < len(found):
        answer["next_page_token"] = str(offset + max_results)
    return answer


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
        service.update_experiment(
            call.db,
            call.principal,
            call.project,
            experiment_of(call, experiment_id).name,
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
    name = experiment_of(call, experiment_id).name
    service.delete_experiment(call.db, call.principal, call.project, name)
    return {}


@rpc("POST", "/mlflow/experiments/restore")
def restore_experiment(call: Call) -> dict[str, Any]:
    name = experiment_of(call, call.params.required("experiment_id")).name
    service.restore_experiment(call.db, call.principal, call.project, name)
    return {}


@rpc("POST", "/mlflow/experiments/set-experiment-tag")
def set_experiment_tag(call: Call) -> dict[str, Any]:
    experiment = experiment_of(call, call.params.required("experiment_id"))
    key = checks.check_key(call.params.required("key"), "key")
    value = call.params.text("value", "") or ""
    if key == "mlflow.note.content":
        service.update_experiment(
            call.db, call.principal, call.project, experiment.name, description=value
        )
    else:
        service.update_experiment(
            call.db, call.principal, call.project, experiment.name, tags={key: value}
        )
    return {}


@rpc("POST", "/mlflow/experiments/delete-experiment-tag")
def delete_experiment_tag(call: Call) -> dict[str, Any]:
    experiment = experiment_of(call, call.params.required("experiment_id"))
    key = call.params.required("key")
    service.delete_experiment_tag(call.db, call.principal, call.project, experiment.name, key)
    return {}
