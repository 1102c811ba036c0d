"""MLflow's model versions (``/mlflow/model-versions/...``) as Griffin model versions.

A version registered through MLflow is a normal Griffin version: flavor ``mlflow``, files in a
run's artifacts (``runs:/<run_id>/<path>``), lineage naming the run, the run's params and latest
metrics, and a signature read from the folder's ``MLmodel`` when it has one. The ``source`` a
client gives is trusted only as a pointer to a run of this project (``runs:/``, the proxied
``mlflow-artifacts:/`` folder of a run, ``models:/<logged model>`` or another version);
anything else (file paths, ``s3://``, ``http://``) is refused, so a client can never make the
server read a location of its choosing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from griffin.artifacts.paths import clean_relative_path
from griffin.domain.accounts import Role
from griffin.domain.registry import Lineage, ModelVersion
from griffin.domain.search import Comparison, Fields, parse_filter
from griffin.domain.validation import MAX_BATCH_PARAMS
from griffin.errors import InvalidArgument, NotFound
from griffin.integrations.mlflow import filters
from griffin.integrations.mlflow.entities import ARTIFACTS_SCHEME
from griffin.integrations.mlflow.logged_models import artifact_location
from griffin.integrations.mlflow.protocol import Call, rpc
from griffin.integrations.mlflow.registry import (
    MODEL_ID_TAG,
    SOURCE_TAG,
    STAGE_TAG,
    stage,
    version_aliases,
    version_json,
    version_number,
)
from griffin.registry import versions
from griffin.store import logged_models, projects
from griffin.store import registry as store
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.registry import ModelVersionRow, RegisteredModelRow
from griffin.tracking import runs as run_service
from griffin.tracking.runs import artifact_prefix

__all__ = ["Origin", "origin_of"]

log = logging.getLogger(__name__)

MAX_MLMODEL_BYTES = 1 << 20
MAX_SEARCH_VERSIONS = 200_000

_SEARCH_FIELDS = Fields(
    attributes={name: name for name in ("name", "run_id", "source_path", "version_number")},
    numeric=frozenset({"version_number"}),
    bare=True,
    quoted_numbers=True,
)
_VERSION_COLUMNS: dict[str, Any] = {
    "name": RegisteredModelRow.name,
    "version_number": ModelVersionRow.version,
    "creation_timestamp": ModelVersionRow.created_at,
    "last_updated_timestamp": ModelVersionRow.created_at,
    "timestamp": ModelVersionRow.created_at,
}


class Origin(NamedTuple):
    """Where a version's files are: ``path`` in run ``run_id``'s artifacts."""

    run_id: str
    path: str
    model_id: str | None = None


def _refused(source: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"Invalid model version source: '{source[:200]}'. {why}. Griffin registers files "
        "from its runs: use runs:/<run_id>/<path>, models:/<model_id> or the run's "
        "mlflow-artifacts:/ folder",
        details={"field": "source"},
    )


def _path(source: str, path: str) -> str:
    if not path.strip("/"):
        return ""
    try:
        return clean_relative_path(path)
    except InvalidArgument as exc:
        raise _refused(source, exc.message) from None


def origin_of(session: Session, project: ProjectRow, source: str) -> Origin:
    """The run folder ``source`` names, checked to be in ``project``; never a raw location."""
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").partition("/")
        if not run_id:
            raise _refused(source, "It names no run")
        return Origin(run_id, _path(source, path))
    if source.startswith(ARTIFACTS_SCHEME) and not source.startswith(ARTIFACTS_SCHEME + "/"):
        parts = source.removeprefix(ARTIFACTS_SCHEME).split("/", 3)
        if len(parts) < 3 or parts[0] != project.id or parts[2] != "artifacts":
            raise _refused(source, "It is not a run folder of this project")
        return Origin(parts[1], _path(source, parts[3] if len(parts) == 4 else ""))
    if source.startswith("models:/") and not source.startswith("models://"):
        ref = source.removeprefix("models:/").rstrip("/")
        if not ref:
            raise _refused(source, "It names no model")
        if "/" not in ref and "@" not in ref:
            model = logged_models.get_row(session, project, ref)
            return Origin(model.run_id, f"{logged_models.MODELS_DIR}/{model.id}", model.id)
        name, sep, which = ref.partition("@")
        if not sep:
            name, _, which = ref.rpartition("/")
        found = store.resolve(session, project.name, name, which)
        if found is None or not found.source.startswith("runs:/"):
            raise _refused(source, "No such model version")
        run_id, _, path = found.source.removeprefix("runs:/").partition("/")
        return Origin(run_id, path, found.tags.get(MODEL_ID_TAG))
    raise _refused(source, "Only run folders of this Griffin project can be registered")


def _signature(call: Call, project_id: str, origin: Origin) -> dict[str, Any] | None:
    """The Griffin signature of the folder's ``MLmodel`` (read as YAML, never unpickled)."""
    try:
        from griffin.integrations.mlflow.model_format import griffin_signature
    except ImportError:  # pragma: no cover - the reader ships with this module
        return None
    key = "/".join(p for p in (artifact_prefix(project_id, origin.run_id), origin.path) if p)
    try:
        with call.platform.artifacts.open_read(f"{key}/MLmodel") as handle:
            raw = handle.read(MAX_MLMODEL_BYTES + 1)
        if len(raw) > MAX_MLMODEL_BYTES:
            return None
        return griffin_signature(raw.decode("utf-8", errors="replace"))
    except (NotFound, InvalidArgument) as exc:
        # A signature is optional: a folder without (or with an odd) MLmodel still registers.
        log.info("no signature from %s/MLmodel: %s", key, getattr(exc, "message", exc))
        return None


@rpc("POST", "/mlflow/model-versions/create")
def create_model_version(call: Call) -> Mapping[str, Any]:
    p = call.params
    name, source = p.required("name"), p.required("source")
    call.principal.require(Role.EDITOR, call.project)
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        store.get_model_row(session, project, name)  # as in MLflow: create the model first
        origin = origin_of(session, project, source)
        model_id = p.text("model_id") or None
        if model_id is not None and model_id != origin.model_id:
            model = logged_models.get_row(session, project, model_id)
            if model.run_id != origin.run_id:
                raise _refused(source, f"It is not in the files of logged model {model_id}")
            origin = origin._replace(model_id=model_id)
        project_id = project.id
    run_id = p.text("run_id") or None
    if run_id is not None and run_id != origin.run_id:
        raise _refused(source, f"It is not in the files of run {run_id}")
    run = run_service.get_run(call.db, call.principal, origin.run_id)
    tags = {**p.key_values("tags"), SOURCE_TAG: source}
    if origin.model_id:
        tags[MODEL_ID_TAG] = origin.model_id
    version = versions.create_version(
        call.db,
        call.principal,
        call.project,
        name,
        source=f"runs:/{origin.run_id}/{origin.path}",
        flavor="mlflow",
        signature=_signature(call, project_id, origin),
        # JSON has no NaN or infinities; MLflow runs may log them.
        metrics={k: m.value for k, m in run.metrics.items() if math.isfinite(m.value)},
        # A version holds at most MAX_BATCH_PARAMS params; a run with more still registers.
        params=dict(sorted(run.params.items())[:MAX_BATCH_PARAMS]),
        lineage=Lineage(run_id=origin.run_id),
        tags=tags,
        description=p.text("description", "") or "",
    )
    return {"model_version": version_json(version)}


def _number(call: Call) -> int:
    return version_number(call.params.required("version"))


def _get(call: Call) -> ModelVersion:
    number = _number(call)
    return versions.get_version(
        call.db, call.principal, call.project, call.params.required("name"), number
    )


@rpc("GET", "/mlflow/model-versions/get")
def get_model_version(call: Call) -> Mapping[str, Any]:
    return {"model_version": version_json(_get(call))}


def _update(call: Call, **changes: Any) -> ModelVersion:
    return versions.update_version(
        call.db,
        call.principal,
        call.project,
        call.params.required("name"),
        _number(call),
        **changes,
    )


@rpc("PATCH", "/mlflow/model-versions/update")
def update_model_version(call: Call) -> Mapping[str, Any]:
    version = _update(call, description=call.params.text("description"))
    return {"model_version": version_json(version)}


@rpc("DELETE", "/mlflow/model-versions/delete")
def delete_model_version(call: Call) -> Mapping[str, Any]:
    name = call.params.required("name")
    versions.delete_version(call.db, call.principal, call.project, name, _number(call))
    return {}


@rpc("POST", "/mlflow/model-versions/set-tag")
def set_model_version_tag(call: Call) -> Mapping[str, Any]:
    p = call.params
    _update(call, tags={p.required("key"): p.text("value", "") or ""})
    return {}


@rpc("DELETE", "/mlflow/model-versions/delete-tag")
def delete_model_version_tag(call: Call) -> Mapping[str, Any]:
    _update(call, tags={call.params.required("key"): ""})  # empty deletes in Griffin's merge
    return {}


@rpc("POST", "/mlflow/model-versions/transition-stage")
def transition_model_version_stage(call: Call) -> Mapping[str, Any]:
    """MLflow's deprecated stages, kept in a version tag; ``archive_existing_versions`` moves
    the model's other versions in the target stage to Archived."""
    p = call.params
    target = stage(p.required("stage"))
    archive = p.flag("archive_existing_versions")
    if archive and target not in ("Staging", "Production"):
        raise InvalidArgument(
            f"archive_existing_versions applies to the Staging and Production stages, not {target}",
            details={"field": "archive_existing_versions"},
        )
    version = _update(call, tags={STAGE_TAG: "" if target == "None" else target})
    if archive:
        with call.db.session() as session:
            project = projects.get_row(session, call.project)
            model = store.get_model_row(session, project, version.name)
            others = session.scalars(
                select(ModelVersionRow.version).where(
                    ModelVersionRow.model_id == model.id,
                    ModelVersionRow.version != version.version,
                    filters.json_text(ModelVersionRow.tags, STAGE_TAG) == target,
                )
            ).all()
        for number in others:
            versions.update_version(
                call.db,
                call.principal,
                call.project,
                version.name,
                number,
                tags={STAGE_TAG: "Archived"},
            )
    return {"model_version": version_json(version)}


def _where(clause: Comparison) -> Any:
    if clause.entity == "tag":
        return filters.key_condition(ModelVersionRow.tags, clause)
    column: Any = {
        "name": RegisteredModelRow.name,
        "version_number": ModelVersionRow.version,
        "run_id": filters.json_text(ModelVersionRow.lineage, "run_id"),
        # The source the client gave, which Griffin keeps in a tag next to its runs:/ source.
        "source_path": func.coalesce(
            filters.json_text(ModelVersionRow.tags, SOURCE_TAG), ModelVersionRow.source
        ),
    }[clause.key]
    return filters.condition(column, clause.op, clause.value)


@rpc("GET", "/mlflow/model-versions/search")
def search_model_versions(call: Call) -> Mapping[str, Any]:
    call.principal.require(Role.VIEWER, call.project)
    p = call.params
    clauses = parse_filter(p.text("filter"), fields=_SEARCH_FIELDS)
    order = filters.order_by(p.strings("order_by"), _VERSION_COLUMNS)
    # MLflow's default order: newest first, then by name and version.
    order += [ModelVersionRow.created_at.desc(), RegisteredModelRow.name, ModelVersionRow.version]
    limit = filters.max_results(p.integer("max_results"), 10_000, MAX_SEARCH_VERSIONS)
    start = filters.offset(p.text("page_token"))
    with call.db.session() as session:
        project = projects.get_row(session, call.project)
        query = (
            select(ModelVersionRow, RegisteredModelRow.name)
            .join(RegisteredModelRow, RegisteredModelRow.id == ModelVersionRow.model_id)
            .where(RegisteredModelRow.project_id == project.id, *[_where(c) for c in clauses])
            .order_by(*order)
            .offset(start)
            .limit(limit + 1)
        )
        found = [(row, name) for row, name in session.execute(query)]
        more = len(found) > limit
        found = found[:limit]
        on = version_aliases(session, [(row.model_id, row.version) for row, _ in found])
        answer = [
            version_json(store.to_version(name, row, on.get((row.model_id, row.version), ())))
            for row, name in found
        ]
    return {
        "model_versions": answer,
        "next_page_token": filters.next_token(start, len(answer), more),
    }


@rpc("GET", "/mlflow/model-versions/get-download-uri")
def get_model_version_download_uri(call: Call) -> Mapping[str, Any]:
    version = _get(call)
    run_id, _, path = version.source.removeprefix("runs:/").partition("/")
    with call.db.session() as session:
        project_id = projects.get_row(session, call.project).id
    return {"artifact_uri": artifact_location(project_id, run_id, path)}
