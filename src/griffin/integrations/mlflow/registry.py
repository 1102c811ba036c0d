"""MLflow's model registry, registered models and aliases (``/mlflow/registered-models/...``).

MLflow's registered models are Griffin's: the handlers call the registry services, so a model
made through MLflow is a normal Griffin model and the other way round. What MLflow has and
Griffin does not is kept in version tags: the deprecated stage (``mlflow.current_stage``), the
``source`` string the client gave (``mlflow.source``) and the logged model's id
(``mlflow.model_id``); they come back as fields, not as tags. Model versions are in
:mod:`griffin.integrations.mlflow.model_versions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from griffin.domain.accounts import Role
from griffin.domain.registry import LATEST, ModelVersion, RegisteredModel
from griffin.domain.search import Comparison, Fields, parse_filter
from griffin.errors import InvalidArgument, NotFound
from griffin.integrations.mlflow import filters
from griffin.integrations.mlflow.entities import key_values
from griffin.integrations.mlflow.protocol import Call, ms, rpc
from griffin.registry import aliases, versions
from griffin.store import projects
from griffin.store import registry as store
from griffin.store.orm.registry import ModelAliasRow, ModelVersionRow, RegisteredModelRow

__all__ = [
    "MODEL_ID_TAG",
    "SOURCE_TAG",
    "STAGES",
    "STAGE_TAG",
    "latest_versions",
    "model_json",
    "stage",
    "version_aliases",
    "version_json",
    "version_number",
]

STAGE_TAG = "mlflow.current_stage"
SOURCE_TAG = "mlflow.source"
MODEL_ID_TAG = "mlflow.model_id"
_FIELD_TAGS = frozenset({STAGE_TAG, SOURCE_TAG, MODEL_ID_TAG})
# MLflow's deprecated stages; a version is in "None" until moved.
STAGES = ("None", "Staging", "Production", "Archived")
_MODEL_COLUMNS: dict[str, Any] = {
    "name": RegisteredModelRow.name,
    "timestamp": RegisteredModelRow.updated_at,
    "last_updated_timestamp": RegisteredModelRow.updated_at,
    "creation_timestamp": RegisteredModelRow.created_at,
}
MAX_SEARCH_MODELS = 1000
MAX_VERSION = 2**31 - 1  # version numbers are 32-bit integers in the store


def stage(value: str) -> str:
    """A stage name in MLflow's spelling, whatever its case (``production`` -> Production)."""
    for name in STAGES:
        if value.lower() == name.lower():
            return name
    raise InvalidArgument(
        f"Invalid Model Version stage: {value[:40]}. Value must be one of {', '.join(STAGES)}.",
        details={"field": "stage"},
    )


def version_json(version: ModelVersion) -> dict[str, Any]:
    tags = {k: v for k, v in version.tags.items() if k not in _FIELD_TAGS}
    out: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": ms(version.created_at),
        # Griffin versions are immutable but for tags and description; no update time is kept.
        "last_updated_timestamp": ms(version.created_at),
        "user_id": version.created_by,
        "current_stage": version.tags.get(STAGE_TAG, "None"),
        "description": version.description,
        "source": version.tags.get(SOURCE_TAG, version.source),
        "status": "READY",
        "tags": key_values(tags),
        "aliases": list(version.aliases),
        "run_link": "",
    }
    if version.run_id:
        out["run_id"] = version.run_id
    if MODEL_ID_TAG in version.tags:
        out["model_id"] = version.tags[MODEL_ID_TAG]
    return out


def model_json(model: RegisteredModel, latest: Sequence[ModelVersion] = ()) -> dict[str, Any]:
    return {
        "name": model.name,
        "creation_timestamp": ms(model.created_at),
        "last_updated_timestamp": ms(model.updated_at),
        "user_id": model.created_by,
        "description": model.description,
        "latest_versions": [version_json(v) for v in latest],
        "tags": key_values(model.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in model.aliases.items()],
    }


def latest_versions(
    session: Session, models: Iterable[RegisteredModelRow]
) -> dict[str, list[ModelVersion]]:
    """The newest version in each stage of each model, by model id: two queries for a page."""
    names = {m.id: m.name for m in models}
    found: dict[str, list[ModelVersion]] = {model_id: [] for model_id in names}
    if not names:
        return found
    # The stage is grouped on in an outer query: PostgreSQL would see the JSON key bound twice
    # (in SELECT and GROUP BY) as two different expressions.
    staged = (
        select(
            ModelVersionRow.model_id,
            ModelVersionRow.version,
            func.coalesce(filters.json_text(ModelVersionRow.tags, STAGE_TAG), "None").label("st"),
        )
        .where(ModelVersionRow.model_id.in_(list(names)))
        .subquery()
    )
    newest = select(staged.c.model_id, func.max(staged.c.version)).group_by(
        staged.c.model_id, staged.c.st
    )
    rows = list(
        session.scalars(
            select(ModelVersionRow)
            .where(tuple_(ModelVersionRow.model_id, ModelVersionRow.version).in_(newest))
            .order_by(ModelVersionRow.model_id, ModelVersionRow.version)
        )
    )
    on = version_aliases(session, [(r.model_id, r.version) for r in rows])
    for row in rows:
        version = store.to_version(
            names[row.model_id], row, on.get((row.model_id, row.version), ())
        )
        found[row.model_id].append(version)
    return found


def version_aliases(
    session: Session, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], list[str]]:
    """The aliases on each (model id, version) of ``keys``, in one query."""
    out: dict[tuple[str, int], list[str]] = {}
    wanted = set(keys)
    if not wanted:
        return out
    query = select(ModelAliasRow.model_id, ModelAliasRow.version, ModelAliasRow.alias).where(
        ModelAliasRow.model_id.in_({model_id for model_id, _ in wanted})
    )
    for model_id, number, alias in session.execute(query):
        if (model_id, number) in wanted:
            out.setdefault((model_id, number), []).append(alias)
    return out


def _model_answer(call: Call, name: str) -> dict[str, Any]:
    call.principal.require(Role.VIEWER, call.project)
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        row = store.get_model_row(session, project, name)
        model = store.to_model(call.project, row, store.aliases_of(session, row.id))
        return {"registered_model": model_json(model, latest_versions(session, [row])[row.id])}


@rpc("POST", "/mlflow/registered-models/create")
def create_registered_model(call: Call) -> Mapping[str, Any]:
    p = call.params
    model = versions.create_model(
        call.db,
        call.principal,
        call.project,
        p.required("name"),
        description=p.text("description", "") or "",
        tags=p.key_values("tags"),
    )
    return {"registered_model": model_json(model)}


@rpc("GET", "/mlflow/registered-models/get")
def get_registered_model(call: Call) -> Mapping[str, Any]:
    return _model_answer(call, call.params.required("name"))


@rpc("POST", "/mlflow/registered-models/rename")
def rename_registered_model(call: Call) -> Mapping[str, Any]:
    p = call.params
    model = versions.rename_model(
        call.db, call.principal, call.project, p.required("name"), p.required("new_name")
    )
    return _model_answer(call, model.name)


@rpc("PATCH", "/mlflow/registered-models/update")
def update_registered_model(call: Call) -> Mapping[str, Any]:
    p = call.params
    name = p.required("name")
    versions.update_model(
        call.db, call.principal, call.project, name, description=p.text("description")
    )
    return _model_answer(call, name)


@rpc("DELETE", "/mlflow/registered-models/delete")
def delete_registered_model(call: Call) -> Mapping[str, Any]:
    versions.delete_model(call.db, call.principal, call.project, call.params.required("name"))
    return {}


@rpc("POST", "/mlflow/registered-models/set-tag")
def set_registered_model_tag(call: Call) -> Mapping[str, Any]:
    p = call.params
    tags = {p.required("key"): p.text("value", "") or ""}
    versions.update_model(call.db, call.principal, call.project, p.required("name"), tags=tags)
    return {}


@rpc("DELETE", "/mlflow/registered-models/delete-tag")
def delete_registered_model_tag(call: Call) -> Mapping[str, Any]:
    p = call.params
    # An empty value deletes a tag in Griffin's merge.
    tags = {p.required("key"): ""}
    versions.update_model(call.db, call.principal, call.project, p.required("name"), tags=tags)
    return {}


_MODEL_FIELDS = Fields(attributes={"name": "name"}, bare=True)


def _where(clause: Comparison) -> Any:
    if clause.entity == "tag":
        return filters.key_condition(RegisteredModelRow.tags, clause)
    return filters.condition(RegisteredModelRow.name, clause.op, clause.value)


@rpc("GET", "/mlflow/registered-models/search")
def search_registered_models(call: Call) -> Mapping[str, Any]:
    call.principal.require(Role.VIEWER, call.project)
    p = call.params
    clauses = parse_filter(p.text("filter"), fields=_MODEL_FIELDS)
    order = filters.order_by(p.strings("order_by"), _MODEL_COLUMNS)
    limit = filters.max_results(p.integer("max_results"), 100, MAX_SEARCH_MODELS)
    start = filters.offset(p.text("page_token"))
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        query = (
            select(RegisteredModelRow)
            .where(RegisteredModelRow.project_id == project.id, *[_where(c) for c in clauses])
            .order_by(*order, RegisteredModelRow.name)
            .offset(start)
            .limit(limit + 1)
        )
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        latest = latest_versions(session, rows)
        on: dict[str, dict[str, int]] = {row.id: {} for row in rows}
        query_aliases = select(ModelAliasRow).where(ModelAliasRow.model_id.in_(list(on)))
        for alias in session.scalars(query_aliases):
            on[alias.model_id][alias.alias] = alias.version
        answer = [
            model_json(store.to_model(call.project, row, on[row.id]), latest[row.id])
            for row in rows
        ]
    return {
        "registered_models": answer,
        "next_page_token": filters.next_token(start, len(rows), more),
    }


def _latest_in_stages(call: Call) -> Mapping[str, Any]:
    p = call.params
    wanted = {stage(s) for s in p.strings("stages")}
    call.principal.require(Role.VIEWER, call.project)
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        row = store.get_model_row(session, project, p.required("name"))
        found = latest_versions(session, [row])[row.id]
    chosen = [v for v in found if not wanted or v.tags.get(STAGE_TAG, "None") in wanted]
    return {"model_versions": [version_json(v) for v in chosen]}


# The client tries POST first and GET when a server answers ENDPOINT_NOT_FOUND.
rpc("POST", "/mlflow/registered-models/get-latest-versions")(_latest_in_stages)
rpc("GET", "/mlflow/registered-models/get-latest-versions")(_latest_in_stages)


def version_number(raw: str) -> int:
    """A version number as MLflow sends it (a string), within the store's integer range."""
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_VERSION:
        raise InvalidArgument(
            f"Parameter 'version' must be an integer, got {raw[:40]!r}.",
            details={"field": "version"},
        )
    return int(raw)


def check_alias(alias: str) -> str:
    """MLflow's reserved names on top of Griffin's alias rules: ``v<N>`` reads as a version."""
    if len(alias) > 1 and alias[0] in "vV" and alias[1:].isdigit():
        raise InvalidArgument(
            f"Version alias name '{alias}' is reserved.", details={"field": "alias"}
        )
    return alias


@rpc("POST", "/mlflow/registered-models/alias")
def set_registered_model_alias(call: Call) -> Mapping[str, Any]:
    p = call.params
    name, alias = p.required("name"), check_alias(p.required("alias"))
    version = version_number(p.required("version"))
    aliases.set_alias(call.db, call.principal, call.project, name, alias, version)
    return {}


@rpc("DELETE", "/mlflow/registered-models/alias")
def delete_registered_model_alias(call: Call) -> Mapping[str, Any]:
    p = call.params
    name, alias = p.required("name"), p.required("alias")
    try:
        aliases.delete_alias(call.db, call.principal, call.project, name, alias)
    except NotFound as exc:
        # Like MLflow, removing an alias the model does not have is not an error; a missing
        # model still is.
        if "alias" not in exc.details:
            raise
    return {}


@rpc("GET", "/mlflow/registered-models/alias")
def get_model_version_by_alias(call: Call) -> Mapping[str, Any]:
    """The hot path of ``models:/name@alias``: one indexed statement, nothing else."""
    p = call.params
    name, alias = p.required("name"), p.required("alias")
    if alias.isdigit() or alias.lower() == LATEST:
        # Griffin reads these as a version number and the newest version; MLflow does not.
        raise NotFound(
            f"Registered model alias {alias} not found.", details={"model": name, "alias": alias}
        )
    version = aliases.resolve(call.db, call.principal, call.project, name, alias)
    return {"model_version": version_json(version)}
