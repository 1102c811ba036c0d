"""What the feature registry hands back: stored objects, their versions, and plans.

Plain frozen dataclasses shared by the service, the REST schemas and the SDK (which rebuilds
them from JSON with the ``from_json`` constructors, without importing the server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

__all__ = ["FeatureObject", "ObjectVersion", "Plan", "PlanItem", "SpecChange"]

Action = Literal["create", "update", "unchanged", "not_in_definitions"]
_SYMBOL: dict[Action, str] = {
    "create": "+",
    "update": "~",
    "unchanged": "=",
    "not_in_definitions": "?",
}


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def show(value: Any) -> str:
    """A spec value as compact JSON (strings quoted, so ``"1"`` and ``1`` differ)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True, slots=True)
class SpecChange:
    """One field that differs between two specs; ``old``/``new`` is None when added/removed."""

    path: str
    op: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.op == "added":
            return f"+ {self.path}: {show(self.new)}"
        if self.op == "removed":
            return f"- {self.path}: {show(self.old)}"
        return f"{self.path}: {show(self.old)} -> {show(self.new)}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SpecChange:
        return cls(path=data["path"], op=data["op"], old=data.get("old"), new=data.get("new"))


@dataclass(frozen=True, slots=True)
class PlanItem:
    """What ``plan`` found (or ``apply`` did) for one object.

    ``version`` is the registry's version before the change (None if absent), ``new_version``
    the one written (or to be written) for ``create``/``update``.
    """

    action: Action
    kind: str
    name: str
    version: int | None = None
    new_version: int | None = None
    changes: tuple[SpecChange, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanItem:
        return cls(
            action=data["action"],
            kind=data["kind"],
            name=data["name"],
            version=data.get("version"),
            new_version=data.get("new_version"),
            changes=tuple(SpecChange.from_json(c) for c in data.get("changes", [])),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """The difference between a project's definitions and its registry.

    Objects in the registry but not in the definitions are reported (``not_in_definitions``),
    never deleted. ``applied`` is True when the plan was written by ``apply``.
    """

    project: str
    items: tuple[PlanItem, ...]
    applied: bool = False

    def of(self, action: Action) -> list[PlanItem]:
        return [i for i in self.items if i.action == action]

    @property
    def has_changes(self) -> bool:
        return any(i.action in ("create", "update") for i in self.items)

    def summary(self) -> str:
        n = {a: len(self.of(a)) for a in _SYMBOL}
        head = (
            f"applied: {n['create']} created, {n['update']} updated"
            if self.applied
            else f"plan: {n['create']} to create, {n['update']} to update"
        )
        return (
            f"{head}, {n['unchanged']} unchanged, {n['not_in_definitions']} not in your "
            "definitions (kept, never deleted)"
        )

    def render(self) -> str:
        """The plan as text: one line per object, field-level diffs under updates."""
        lines: list[str] = []
        for item in self.items:
            label = f"{_SYMBOL[item.action]} {item.kind} {item.name}"
            if item.action == "create":
                lines.append(f"{label} (new, version {item.new_version})")
            elif item.action == "update":
                lines.append(f"{label} (version {item.version} -> {item.new_version})")
                lines.extend(f"    {change}" for change in item.changes)
            elif item.action == "unchanged":
                lines.append(f"{label} (unchanged, version {item.version})")
            else:
                lines.append(
                    f"{label} (version {item.version}): not in your definitions; kept in the "
                    "registry, not deleted"
                )
        lines.append(self.summary())
        return "\n".join(lines)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            project=data["project"],
            items=tuple(PlanItem.from_json(i) for i in data["items"]),
            applied=bool(data.get("applied", False)),
        )


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One stored version of a definition: who wrote it, when, and what changed."""

    version: int
    fingerprint: str
    created_by: str
    created_at: datetime
    change: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectVersion:
        return cls(
            version=int(data["version"]),
            fingerprint=data["fingerprint"],
            created_by=data["created_by"],
            created_at=_time(data["created_at"]),
            change=data["change"],
        )


@dataclass(frozen=True, slots=True)
class FeatureObject:
    """A definition in the registry at one version (the latest unless asked otherwise).

    ``versions`` is filled by ``get`` (every version, oldest first) and empty in lists.
    """

    project: str
    kind: str
    name: str
    version: int
    latest_version: int
    owner: str
    description: str
    tags: dict[str, str]
    fingerprint: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    versions: tuple[ObjectVersion, ...] = field(default=())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureObject:
        return cls(
            project=data["project"],
            kind=data["kind"],
            name=data["name"],
            version=int(data["version"]),
            latest_version=int(data["latest_version"]),
            owner=data["owner"],
            description=data["description"],
            tags=dict(data["tags"]),
            fingerprint=data["fingerprint"],
            spec=dict(data["spec"]),
            created_at=_time(data["created_at"]),
            updated_at=_time(data["updated_at"]),
            versions=tuple(ObjectVersion.from_json(v) for v in data.get("versions", [])),
        )
