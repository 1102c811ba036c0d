"""The feature registry: plan and apply a project's definitions, list and show what is stored.

``plan`` compares each definition's fingerprint with the newest stored version; ``apply``
writes the plan's new versions in one transaction, so a failure leaves the registry exactly
as it was. Objects in the registry that the definitions no longer contain are reported, never
deleted. The server only stores specs: an on-demand view's function is kept as source text
and never run here.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from griffin.domain.accounts import Principal, Role
from griffin.domain.features import FeatureObject, Plan, PlanItem, SpecChange
from griffin.errors import InvalidArgument, NotFound
from griffin.store import features as store
from griffin.store import projects
from griffin.store.orm.accounts import ProjectRow
from griffin.store.session import Database

from .project import Definitions

__all__ = ["KINDS", "apply", "diff_specs", "get_object", "list_objects", "plan"]

KINDS = ("source", "entity", "feature_view", "on_demand_feature_view", "feature_service")
_MAX_CHANGE = 1000  # characters of a version's change summary


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value, key=str):
            _flatten(value[key], f"{path}.{key}" if path else str(key), out)
        return
    named = isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)
    names = [v.get("name") for v in value] if named else []
    if named and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        for item in value:  # lists of named things (features): diff by name, not position
            _flatten(item, f"{path}[{item['name']}]", out)
        return
    out[path] = value


def diff_specs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[SpecChange]:
    """Field-level differences of two specs: added, removed and changed paths."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old, "", before)
    _flatten(new, "", after)
    changes: list[SpecChange] = []
    for path in sorted(before.keys() | after.keys()):
        if path not in before:
            changes.append(SpecChange(path, "added", new=after[path]))
        elif path not in after:
            changes.append(SpecChange(path, "removed", old=before[path]))
        elif before[path] != after[path]:
            changes.append(SpecChange(path, "changed", old=before[path], new=after[path]))
    return changes


def _summary(changes: list[SpecChange]) -> str:
    text = "; ".join(str(c) for c in changes) or "fingerprint changed"
    return text if len(text) <= _MAX_CHANGE else text[: _MAX_CHANGE - 3] + "..."


def _plan(
    session: Session, project: str, project_row: ProjectRow, definitions: Definitions
) -> tuple[Plan, dict[tuple[str, str], dict[str, Any]]]:
    stored = {(o.kind, o.name): (o, v) for o, v in store.latest(session, project_row)}
    items: list[PlanItem] = []
    specs: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in definitions:
        key = (obj.kind, obj.name)
        spec = obj.spec()
        specs[key] = spec
        found = stored.pop(key, None)
        if found is None:
            items.append(PlanItem("create", obj.kind, obj.name, None, 1))
        elif found[1].fingerprint == obj.fingerprint():
            items.append(PlanItem("unchanged", obj.kind, obj.name, found[0].latest_version))
        else:
            version = found[0].latest_version
            changes = tuple(diff_specs(found[1].spec, spec))
            items.append(PlanItem("update", obj.kind, obj.name, version, version + 1, changes))
    items.extend(
        PlanItem("not_in_definitions", kind, name, row.latest_version)
        for (kind, name), (row, _) in sorted(stored.items(), key=lambda kv: kv[0])
    )
    return Plan(project=project, items=tuple(items)), specs


def plan(db: Database, principal: Principal, project: str, definitions: Definitions) -> Plan:
    """What ``apply`` would write: objects to create and update (with diffs), and the rest."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        return _plan(session, project, projects.get_row(session, project), definitions)[0]


def apply(db: Database, principal: Principal, project: str, definitions: Definitions) -> Plan:
    """Write the plan in one transaction; unchanged definitions write nothing."""
    principal.require(Role.EDITOR, project)
    with db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        planned, specs = _plan(session, project, project_row, definitions)
        for item in planned.items:
            if item.action not in ("create", "update"):
                continue
            spec = specs[(item.kind, item.name)]
            row = store.find_row(session, project_row, item.kind, item.name)
            store.add_version(
                session,
                project_row,
                row,
                spec,
                fingerprint=definitions.get(item.kind, item.name).fingerprint(),
                user=principal.user,
                change="created" if item.action == "create" else _summary(list(item.changes)),
            )
    return Plan(project=project, items=planned.items, applied=True)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; kinds are {', '.join(KINDS)}"
        raise InvalidArgument(f"unknown feature object kind '{kind}'{hint}", details={"kind": kind})


def _matches(
    obj: FeatureObject,
    query: str | None,
    owner: str | None,
    tag: str | None,
    entity: str | None,
    views: Mapping[str, list[str]],
) -> bool:
    if owner is not None and obj.owner != owner:
        return False
    if tag is not None:
        key, has_value, value = tag.partition("=")
        if key not in obj.tags or (has_value and obj.tags[key] != value):
            return False
    if entity is not None and entity not in _entities(obj, views):
        return False
    if query:
        text = " ".join(
            [obj.name, obj.description, obj.owner, *(f"{k}={v}" for k, v in obj.tags.items())]
        )
        return query.lower() in text.lower()
    return True


def _entities(obj: FeatureObject, views: Mapping[str, list[str]]) -> set[str]:
    """The entities an object is keyed by (its views' entities for on-demand views, services)."""
    if obj.kind == "entity":
        return {obj.name}
    if obj.kind == "feature_view":
        return set(views.get(obj.name, []))
    items = obj.spec.get("sources" if obj.kind == "on_demand_feature_view" else "features", [])
    used = [str(i.get("view")) for i in items if isinstance(i, Mapping) and "view" in i]
    return {e for view in used for e in views.get(view, [])}


def list_objects(
    db: Database,
    principal: Principal,
    project: str,
    *,
    kind: str | None = None,
    query: str | None = None,
    owner: str | None = None,
    tag: str | None = None,
    entity: str | None = None,
) -> list[FeatureObject]:
    """Objects at their latest version, dependencies first, then by name; filtered.

    ``query`` is free text over name, description, owner and tags; ``tag`` is ``key`` or
    ``key=value``; ``entity`` keeps the entity itself and what is keyed by it.
    """
    principal.require(Role.VIEWER, project)
    if kind is not None:
        _check_kind(kind)
    with db.session() as session:
        rows = store.latest(session, projects.get_row(session, project))
    found = sorted(
        (store.to_domain(project, o, v) for o, v in rows),
        key=lambda o: (KINDS.index(o.kind) if o.kind in KINDS else len(KINDS), o.name),
    )
    views = {o.name: list(o.spec.get("entities", [])) for o in found if o.kind == "feature_view"}
    return [
        o
        for o in found
        if (kind is None or o.kind == kind) and _matches(o, query, owner, tag, entity, views)
    ]


def get_object(
    db: Database,
    principal: Principal,
    project: str,
    kind: str,
    name: str,
    version: int | None = None,
) -> FeatureObject:
    """One object at ``version`` (default: latest), with the history of all its versions."""
    principal.require(Role.VIEWER, project)
    _check_kind(kind)
    with db.session() as session:
        project_row = projects.get_row(session, project)
        row = store.find_row(session, project_row, kind, name)
        if row is None:
            known = store.names_of_kind(session, project_row, kind)
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            label = kind.replace("_", " ")
            raise NotFound(
                f"{label} '{name}' is not in the registry of project '{project}'{hint}",
                details={"kind": kind, "name": name, "project": project, "close_matches": close},
            )
        history = store.versions_of(session, row.id)
        wanted = row.latest_version if version is None else version
        chosen = next((v for v in history if v.version == wanted), None)
        if chosen is None:
            raise NotFound(
                f"{kind.replace('_', ' ')} '{name}' has no version {wanted} "
                f"(versions 1 to {row.latest_version})",
                details={"kind": kind, "name": name, "version": wanted},
            )
        return store.to_domain(project, row, chosen, history)
