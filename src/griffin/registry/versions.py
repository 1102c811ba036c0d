"""Registered models and their versions: create, number, read, list and annotate.

Version numbers are handed out by one ``UPDATE ... RETURNING`` on the registered model's
row, which takes the write lock before it reads, so two jobs registering at once get
consecutive numbers. A model created by two callers at once is retried once: the loser finds
the winner's row. The files of a version live in a run's artifacts (``runs:/<run>/<path>``);
the run must exist in the same project.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from griffin.domain.accounts import Principal, Role
from griffin.domain.ids import new_id
from griffin.domain.registry import Lineage, ModelVersion, RegisteredModel, check_model_name
from griffin.domain.validation import check_key, check_params, check_tags
from griffin.errors import AlreadyExists, Conflict, InvalidArgument
from griffin.store import projects, runs
from griffin.store import registry as store
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.deployments import DeploymentRow
from griffin.store.orm.registry import (
    ModelAliasEventRow,
    ModelAliasRow,
    ModelVersionRow,
    RegisteredModelRow,
)
from griffin.store.session import Database
from griffin.tracking.pages import Page, decode_cursor, encode_cursor

__all__ = [
    "FLAVOR_NAMES",
    "create_model",
    "create_version",
    "delete_model",
    "delete_version",
    "get_model",
    "get_version",
    "list_models",
    "list_versions",
    "rename_model",
    "update_model",
    "update_version",
]

# The flavors griffin.registry.flavors knows; the server never imports a model library.
# "mlflow": an MLflow model folder (an ``MLmodel`` file), registered through the MLflow API.
FLAVOR_NAMES = ("xgboost", "lightgbm", "sklearn", "pytorch", "pyfunc", "mlflow")
MAX_DESCRIPTION = 10_000


def _description(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_DESCRIPTION:
        raise InvalidArgument(
            f"description is longer than {MAX_DESCRIPTION} characters",
            details={"field": "description"},
        )
    return value


def _metrics(values: Mapping[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in (values or {}).items():
        check_key(str(key), field="metric name")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(
                f"metric {key!r} must be a number, got {type(value).__name__}",
                details={"field": "metrics", "metric": str(key)},
            )
        number = float(value)
        if math.isinf(number):
            raise InvalidArgument(
                f"metric {key!r} is infinite", details={"field": "metrics", "metric": str(key)}
            )
        out[str(key)] = number
    return out


def create_model(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    *,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> RegisteredModel:
    """Register a model name with no versions yet (``AlreadyExists`` if taken)."""
    principal.require(Role.EDITOR, project)
    check_model_name(name)
    _description(description)
    check_tags(tags or {})
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        if store.find_model(session, project_row, name) is not None:
            raise AlreadyExists(
                f"model {name!r} already exists in project {project!r}",
                details={"model": name},
            )
        row = _new_model(session, project_row, name, principal.user, description, tags or {})
        return store.to_model(project, row, {})


def _new_model(
    session: Session,
    project: ProjectRow,
    name: str,
    user: str,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> RegisteredModelRow:
    now = utcnow()
    row = RegisteredModelRow(
        id=new_id(),
        project_id=project.id,
        name=name,
        description=description,
        tags=dict(tags or {}),
        latest_version=0,
        created_by=user,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_model(db: Database, principal: Principal, project: str, name: str) -> RegisteredModel:
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        row = store.get_model_row(session, project_row, name)
        return store.to_model(project, row, store.aliases_of(session, row.id))


def list_models(
    db: Database,
    principal: Principal,
    project: str,
    *,
    prefix: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[RegisteredModel]:
    """Registered models by name (optionally those whose name starts with ``prefix``)."""
    principal.require(Role.VIEWER, project)
    after = str(decode_cursor(cursor, 1)[0]) if cursor else None
    with db.session() as session:
        project_row = projects.get_row(session, project)
        query = select(RegisteredModelRow).where(RegisteredModelRow.project_id == project_row.id)
        if prefix:
            query = query.where(RegisteredModelRow.name.startswith(prefix, autoescape=True))
        if after is not None:
            query = query.where(RegisteredModelRow.name > after)
        rows = list(session.scalars(query.order_by(RegisteredModelRow.name).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        items = [store.to_model(project, r, store.aliases_of(session, r.id)) for r in rows]
    return Page(items=items, next_cursor=encode_cursor([rows[-1].name]) if more else None)


def update_model(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
) -> RegisteredModel:
    """Replace the description and/or merge ``tags`` (an empty value deletes a tag)."""
    principal.require(Role.EDITOR, project)
    _description(description)
    check_tags({k: v for k, v in (tags or {}).items() if v})
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = store.get_model_row(session, project_row, name, for_update=True)
        if description is not None:
            row.description = description
        if tags:
            row.tags = _merged(row.tags, tags)
        row.updated_at = utcnow()
        session.flush()
        return store.to_model(project, row, store.aliases_of(session, row.id))


def _merged(old: Mapping[str, str] | None, new: Mapping[str, str]) -> dict[str, str]:
    merged = {**(old or {}), **new}
    return {k: v for k, v in merged.items() if v}


def _source(session: Session, project: ProjectRow, source: str) -> str:
    """Check ``runs:/<run>/<path>`` names a run of this project; returns the artifact URI."""
    run_id, _, path = source.removeprefix("runs:/").partition("/")
    if not source.startswith("runs:/") or not run_id:
        raise InvalidArgument(
            f"invalid model source {source[:80]!r}: use runs:/<run_id>/<path>, the run "
            "artifact folder the model was saved to",
            details={"field": "source"},
        )
    parts = [p for p in path.split("/") if p]
    if any(p in {".", ".."} for p in parts) or "\\" in path:
        raise InvalidArgument(
            f"invalid model source {source[:80]!r}: the path may not contain '.' or '..'",
            details={"field": "source"},
        )
    run, run_project = runs.get_row_and_project(session, run_id)
    if run_project != project.name:
        raise InvalidArgument(
            f"run {run_id} belongs to project {run_project!r}, not {project.name!r}: a version's "
            "files must come from a run of the same project",
            details={"field": "source", "run_id": run_id},
        )
    return "/".join([run.artifact_uri.rstrip("/"), *parts])


def create_version(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    *,
    source: str,
    flavor: str,
    signature: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    params: dict[str, str] | None = None,
    lineage: Lineage | None = None,
    tags: dict[str, str] | None = None,
    description: str = "",
) -> ModelVersion:
    """Register the next version of ``name`` (the model is created on first use)."""
    principal.require(Role.EDITOR, project)
    check_model_name(name)
    if flavor not in FLAVOR_NAMES:
        raise InvalidArgument(
            f"unknown model flavor {flavor[:40]!r}; use one of {', '.join(FLAVOR_NAMES)}",
            details={"field": "flavor"},
        )
    checked_metrics = _metrics(metrics)
    check_params(params or {})
    check_tags(tags or {})
    _description(description)
    lineage = lineage or Lineage()
    for attempt in range(2):
        try:
            return _insert_version(
                db,
                principal,
                project,
                name,
                source=source,
                flavor=flavor,
                signature=dict(signature or {}),
                metrics=checked_metrics,
                params=dict(params or {}),
                lineage=lineage,
                tags=dict(tags or {}),
                description=description,
            )
        except AlreadyExists:
            # Another caller created the model (or took the number) first: go again once.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _insert_version(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    *,
    source: str,
    flavor: str,
    signature: dict[str, Any],
    metrics: dict[str, float],
    params: dict[str, str],
    lineage: Lineage,
    tags: dict[str, str],
    description: str,
) -> ModelVersion:
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        artifact_uri = _source(session, project_row, source)
        model = store.find_model(session, project_row, name)
        if model is None:
            model = _new_model(session, project_row, name, principal.user)
        now = utcnow()
        # One atomic UPDATE ... RETURNING hands out the number: it takes the row's write lock
        # (PostgreSQL) or the database's (SQLite) before reading, so racing creators queue.
        number = session.execute(
            update(RegisteredModelRow)
            .where(RegisteredModelRow.id == model.id)
            .values(latest_version=RegisteredModelRow.latest_version + 1, updated_at=now)
            .returning(RegisteredModelRow.latest_version),
            execution_options={"synchronize_session": False},
        ).scalar_one()
        row = ModelVersionRow(
            model_id=model.id,
            version=number,
            source=source,
            artifact_uri=artifact_uri,
            flavor=flavor,
            signature=signature,
            metrics=metrics,
            params=params,
            lineage=lineage.to_json(),
            tags=tags,
            description=description,
            created_by=principal.user,
            created_at=now,
        )
        session.add(row)
        session.flush()
        store.write_feature_rows(session, project_row, model.id, row.version, lineage)
        session.flush()
        return store.to_version(name, row)


def get_version(
    db: Database, principal: Principal, project: str, name: str, ref: str | int
) -> ModelVersion:
    """A version by number, ``latest`` or alias (see :func:`griffin.registry.aliases.resolve`)."""
    from griffin.registry.aliases import resolve

    return resolve(db, principal, project, name, str(ref))


def list_versions(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> Page[ModelVersion]:
    """Versions of ``name``, newest first."""
    principal.require(Role.VIEWER, project)
    before = decode_cursor(cursor, 1)[0] if cursor else None
    if before is not None and not isinstance(before, int):
        raise InvalidArgument("invalid page cursor", details={"field": "cursor"})
    with db.session() as session:
        project_row = projects.get_row(session, project)
        model = store.get_model_row(session, project_row, name)
        query = select(ModelVersionRow).where(ModelVersionRow.model_id == model.id)
        if before is not None:
            query = query.where(ModelVersionRow.version < before)
        query = query.order_by(ModelVersionRow.version.desc()).limit(limit + 1)
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        aliases = store.version_aliases(session, model.id, [r.version for r in rows])
        items = [store.to_version(name, r, aliases.get(r.version, ())) for r in rows]
    return Page(items=items, next_cursor=encode_cursor([rows[-1].version]) if more else None)


def update_version(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    version: int,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Replace the description, merge ``tags`` (empty value deletes) and ``metrics``
    (evaluation results are added next to the training metrics; same names are replaced)."""
    principal.require(Role.EDITOR, project)
    _description(description)
    check_tags({k: v for k, v in (tags or {}).items() if v})
    checked = _metrics(metrics)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        model = store.get_model_row(session, project_row, name, for_update=True)
        row = store.get_version_row(session, model, version)
        if description is not None:
            row.description = description
        if tags:
            row.tags = _merged(row.tags, tags)
        if checked:
            row.metrics = {**(row.metrics or {}), **checked}
        session.flush()
        aliases = store.version_aliases(session, model.id, [version]).get(version, ())
        return store.to_version(name, row, aliases)


def _not_deployed(session: Session, project: ProjectRow, name: str, action: str) -> None:
    """Refuse to rename or delete a model a deployment serves: it names the model."""
    configs = session.scalars(
        select(DeploymentRow.config).where(DeploymentRow.project_id == project.id)
    )
    if any((config or {}).get("model") == name for config in configs):
        raise Conflict(
            f"cannot {action} model {name!r}: a deployment serves it; point the deployment "
            "at another model first",
            details={"model": name},
        )


def rename_model(
    db: Database, principal: Principal, project: str, name: str, new_name: str
) -> RegisteredModel:
    """Give a model a new name; its versions, aliases and history follow it."""
    principal.require(Role.EDITOR, project)
    check_model_name(new_name)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = store.get_model_row(session, project_row, name, for_update=True)
        if new_name != name and store.find_model(session, project_row, new_name) is not None:
            raise AlreadyExists(
                f"model {new_name!r} already exists in project {project!r}",
                details={"model": new_name},
            )
        _not_deployed(session, project_row, name, "rename")
        row.name = new_name
        row.updated_at = utcnow()
        session.flush()
        return store.to_model(project, row, store.aliases_of(session, row.id))


def delete_model(db: Database, principal: Principal, project: str, name: str) -> None:
    """Delete a model with all its versions and aliases (the runs and their files stay)."""
    principal.require(Role.EDITOR, project)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        row = store.get_model_row(session, project_row, name, for_update=True)
        _not_deployed(session, project_row, name, "delete")
        # The foreign keys cascade to versions, aliases, alias events and feature rows.
        session.execute(delete(RegisteredModelRow).where(RegisteredModelRow.id == row.id))


def delete_version(
    db: Database, principal: Principal, project: str, name: str, version: int
) -> None:
    """Delete one version and the aliases on it (each removal recorded in the alias history).

    Numbers are never handed out again, as in MLflow: the next version still gets
    ``latest_version + 1``, so a number always names the same files.
    """
    principal.require(Role.EDITOR, project)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        model = store.get_model_row(session, project_row, name, for_update=True)
        store.get_version_row(session, model, version)  # raises: no such version
        now = utcnow()
        on_version = select(ModelAliasRow.alias).where(
            ModelAliasRow.model_id == model.id, ModelAliasRow.version == version
        )
        for alias in session.scalars(on_version):
            session.add(
                ModelAliasEventRow(
                    model_id=model.id,
                    alias=alias,
                    from_version=version,
                    to_version=None,
                    user=principal.user,
                    at=now,
                )
            )
        session.execute(
            delete(ModelVersionRow).where(
                ModelVersionRow.model_id == model.id, ModelVersionRow.version == version
            )
        )
        model.updated_at = now
