"""Aliases (``champion``, ``challenger``, any name): resolve, set, move, delete, promote.

Every change writes an event row (who, when, from which version to which) in the same
transaction as the change itself. Resolution is the hot path — servers and batch jobs resolve
on every start and poll for changes — so it is one indexed statement
(:func:`griffin.store.registry.resolve`), and only a miss pays for a second look to explain it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from griffin.domain.accounts import Principal, Role
from griffin.domain.registry import (
    LATEST,
    AliasChange,
    AliasEvent,
    Gate,
    ModelVersion,
    check_alias,
    check_model_name,
    parse_gate,
    parse_model_ref,
)
from griffin.errors import Conflict, InvalidArgument, NotFound
from griffin.store import projects
from griffin.store import registry as store
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.base import utcnow
from griffin.store.orm.registry import ModelAliasEventRow, ModelAliasRow, RegisteredModelRow
from griffin.store.session import Database

__all__ = [
    "alias_history",
    "delete_alias",
    "missing",
    "promote",
    "resolve",
    "resolve_ref",
    "set_alias",
]


def resolve(db: Database, principal: Principal, project: str, name: str, ref: str) -> ModelVersion:
    """The version that ``ref`` — a number, ``latest`` or an alias — names now."""
    principal.require(Role.VIEWER, project)
    if not ref.isdigit() and ref.lower() != LATEST:
        check_alias(ref)
    # The hot path: one statement, one round trip (servers and batch jobs poll this).
    found = db.read_now(lambda session: store.resolve(session, project, name, ref))
    if found is not None:
        return found
    with db.session() as session:
        raise missing(session, projects.get_row(session, project), name, ref)


def missing(session: Session, project: ProjectRow, name: str, ref: str) -> NotFound:
    """Why ``ref`` of model ``name`` names no version: exactly what is missing (the model, the
    version, the alias, with the aliases it has)."""
    model = store.get_model_row(session, project, name)  # raises: no such model
    if ref.isdigit():
        store.get_version_row(session, model, int(ref))  # raises: no such version
    if ref.lower() == LATEST:
        return NotFound(
            f"model {name!r} has no versions yet", details={"model": name, "alias": ref}
        )
    known = sorted(store.aliases_of(session, model.id))
    return NotFound(
        f"model {name!r} has no alias {ref!r}"
        + (f" (its aliases: {', '.join(known)})" if known else " (it has no aliases)"),
        details={"model": name, "alias": ref, "aliases": known},
    )


def resolve_ref(db: Database, principal: Principal, project: str, ref: str) -> ModelVersion:
    """A full reference: ``name@alias``, ``name@latest`` or ``name/3``."""
    name, which = parse_model_ref(ref)
    return resolve(db, principal, project, name, which)


def _version_number(name: str, version: int | str) -> int:
    """A version given as a number, or as ``name/3`` / ``name@alias`` of the same model."""
    if isinstance(version, int) and not isinstance(version, bool):
        if version < 1:
            raise InvalidArgument(
                f"invalid version {version}: versions start at 1", details={"field": "version"}
            )
        return version
    text = str(version)
    if text.isdigit():
        return _version_number(name, int(text))
    other, _ = parse_model_ref(text)
    if other != name:
        raise InvalidArgument(
            f"version {text!r} is a version of model {other!r}, not {name!r}: an alias can only "
            "point at a version of its own model",
            details={"field": "version", "model": name, "other_model": other},
        )
    raise InvalidArgument(
        f"give the version as a number (or {name}/N), not {text!r}", details={"field": "version"}
    )


def set_alias(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    alias: str,
    version: int | str,
    *,
    gates: Sequence[Gate] = (),
) -> AliasChange:
    """Point ``alias`` at ``version`` (creating or moving it), after checking ``gates``
    against the version's metrics: a failed gate raises ``Conflict`` and changes nothing."""
    principal.require(Role.EDITOR, project)
    check_model_name(name)
    check_alias(alias)
    number = _version_number(name, version)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        model = store.get_model_row(session, project_row, name, for_update=True)
        row = store.get_version_row(session, model, number)
        failures = [why for gate in gates if (why := gate.check(row.metrics or {})) is not None]
        if failures:
            raise Conflict(
                f"version {number} of {name!r} does not meet the promotion requirements: "
                + "; ".join(failures),
                details={
                    "model": name,
                    "version": number,
                    "alias": alias,
                    "failed": failures,
                    "metrics": dict(row.metrics or {}),
                },
            )
        current = session.get(ModelAliasRow, (model.id, alias))
        before = None if current is None else current.version
        if before == number:
            return AliasChange(name, alias, before, number, changed=False)
        now = utcnow()
        if current is None:
            session.add(
                ModelAliasRow(
                    model_id=model.id,
                    alias=alias,
                    version=number,
                    updated_at=now,
                    updated_by=principal.user,
                )
            )
        else:
            current.version = number
            current.updated_at = now
            current.updated_by = principal.user
        return _recorded(session, model, alias, before, number, principal.user, now)


def _recorded(
    session: Session,
    model: RegisteredModelRow,
    alias: str,
    before: int | None,
    after: int | None,
    user: str,
    at: datetime,
) -> AliasChange:
    """Write the event of an alias change (in the change's transaction) and describe it."""
    session.add(
        ModelAliasEventRow(
            model_id=model.id, alias=alias, from_version=before, to_version=after, user=user, at=at
        )
    )
    model.updated_at = at
    session.flush()
    return AliasChange(model.name, alias, before, after, changed=True)


def promote(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    version: int | str,
    alias: str,
    requirements: Sequence[str] = (),
) -> AliasChange:
    """``griffin models promote``: :func:`set_alias` with requirements like ``auc>=0.85``."""
    gates = [parse_gate(r) for r in requirements]
    return set_alias(db, principal, project, name, alias, version, gates=gates)


def delete_alias(
    db: Database, principal: Principal, project: str, name: str, alias: str
) -> AliasChange:
    """Remove ``alias`` (``NotFound`` when the model has no such alias)."""
    principal.require(Role.EDITOR, project)
    check_alias(alias)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        model = store.get_model_row(session, project_row, name, for_update=True)
        current = session.get(ModelAliasRow, (model.id, alias))
        if current is None:
            raise NotFound(
                f"model {name!r} has no alias {alias!r}", details={"model": name, "alias": alias}
            )
        session.delete(current)
        return _recorded(session, model, alias, current.version, None, principal.user, utcnow())


def alias_history(
    db: Database,
    principal: Principal,
    project: str,
    name: str,
    alias: str | None = None,
    *,
    limit: int = 100,
) -> list[AliasEvent]:
    """Alias changes of ``name`` (of one ``alias``), newest first."""
    principal.require(Role.VIEWER, project)
    if alias is not None:
        check_alias(alias)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        model = store.get_model_row(session, project_row, name)
        return store.alias_events(session, model.id, alias, limit)
