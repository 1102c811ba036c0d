"""The Model Store's pure side: definitions of untrained models, their versions, plans, diffs.

A :class:`ModelDefinitionSpec` is what a user's ``@griffin.model`` says (entry point, runtime,
feature service, target, task, default params, owner, description, tags). Its fingerprint is
the sha256 of its canonical JSON; the code package it was applied with is tracked beside it
(``code_digest``), so a new version is written when either changes. The other classes are what
the Model Store hands back; the SDK rebuilds them from JSON with their ``from_json``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from griffin.domain.features import SpecChange
from griffin.domain.registry import check_model_name
from griffin.domain.validation import check_key, check_tags
from griffin.errors import InvalidArgument

__all__ = [
    "TASKS",
    "DefinitionDiff",
    "DefinitionVersion",
    "FileChange",
    "ModelDefinition",
    "ModelDefinitionSpec",
    "ModelPlan",
    "ModelPlanItem",
    "PackageSummary",
    "check_code_digest",
    "check_entry",
    "check_git_commit",
]

TASKS = ("classification", "regression")
MAX_PARAMS = 1000
MAX_TEXT = 10_000
MAX_ENTITY_ROWS = 4_096
JsonScalar = str | int | float | bool | None
Action = Literal["create", "update", "unchanged", "not_in_definitions"]

_RUNTIME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # as griffin.training.runtimes names
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{4,64}")
_PATH_PART = re.compile(r"[^/\\\x00]+")
_FIELDS = (
    "name",
    "entry",
    "runtime",
    "features",
    "target",
    "task",
    "entity_rows",
    "params",
    "owner",
    "description",
    "tags",
)


def _fail(name: object, field: str, problem: str) -> InvalidArgument:
    return InvalidArgument(
        f"model definition {str(name)[:60]!r}: {field} {problem}",
        details={"name": str(name)[:128], "field": field},
    )


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def check_entry(entry: object, name: object = "?") -> str:
    """An entry point: ``<relative posix path of a .py file>:<function name>``."""
    if not isinstance(entry, str):
        raise _fail(name, "entry", f"must be a string, got {type(entry).__name__}")
    path, sep, function = entry.rpartition(":")
    parts = path.split("/")
    if (
        not sep
        or not path.endswith(".py")
        or len(entry) > 1024
        or any(p in ("", ".", "..") or not _PATH_PART.fullmatch(p) for p in parts)
        or not function.isidentifier()
    ):
        raise _fail(
            name,
            "entry",
            f"{entry[:80]!r} is not an entry point: write <relative path of a .py file>:"
            "<module-level function>, e.g. model.py:train",
        )
    return entry


def check_code_digest(digest: object) -> str:
    """A code package digest: 64 lower-case hex characters (or empty for no package)."""
    if digest == "":
        return ""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidArgument(
            f"invalid code package digest {str(digest)[:80]!r}: expected 64 lower-case hex "
            "characters (a sha256)",
            details={"field": "code_digest"},
        )
    return digest


def check_git_commit(commit: object) -> str:
    """A git commit id (hex), or empty."""
    if commit == "":
        return ""
    if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
        raise InvalidArgument(
            f"invalid git commit {str(commit)[:80]!r}: expected a hex commit id",
            details={"field": "git_commit"},
        )
    return commit


def _check_params(name: str, params: object) -> dict[str, JsonScalar]:
    if not isinstance(params, Mapping):
        raise _fail(name, "params", f"must be a dict, got {type(params).__name__}")
    if len(params) > MAX_PARAMS:
        raise _fail(name, "params", f"has {len(params)} entries; at most {MAX_PARAMS}")
    checked: dict[str, JsonScalar] = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise _fail(name, "params", f"keys must be strings, got {key!r}")
        try:
            check_key(key, field="param")
        except InvalidArgument as exc:
            raise _fail(name, "params", exc.message) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(name, f"params[{key!r}]", f"must be a finite number, got {value}")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise _fail(
                name,
                f"params[{key!r}]",
                f"must be a JSON scalar (str, int, float, bool or None), got "
                f"{type(value).__name__}",
            )
        checked[key] = value
    return checked


def _optional(name: str, field: str, value: object, pattern: re.Pattern[str] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 256:
        raise _fail(
            name,
            field,
            f"must be a non-empty string of at most 256 characters or None, got {value!r}"[:200],
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise _fail(name, field, f"{value[:60]!r} is not a valid name")
    return value


@dataclass(frozen=True, slots=True)
class ModelDefinitionSpec:
    """What one ``@griffin.model`` declares; every field is checked on construction.

    Attributes:
        name: the model's name (as registered models are named).
        entry: ``<relative path>:<function>`` of the train function in the code package.
        runtime: a standard runtime name (``griffin runtimes list``), or None.
        features: a feature service name, or None.
        target: the label column, or None.
        task: ``"classification"``, ``"regression"`` or None.
        entity_rows: the default training data when a job names none: entity rows (a
            parquet path in the project, or SQL) joined with ``features``.
        params: default hyper-parameters (JSON scalars).
        owner: who owns the model.
        description: free text.
        tags: string key/value pairs.
    """

    name: str
    entry: str
    runtime: str | None = None
    features: str | None = None
    target: str | None = None
    task: str | None = None
    entity_rows: str | None = None
    params: Mapping[str, JsonScalar] = field(default_factory=dict)
    owner: str = ""
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = self.name
        try:
            check_model_name(name)
        except InvalidArgument as exc:
            raise InvalidArgument(f"model definition: {exc.message}", details=exc.details) from None
        check_entry(self.entry, name)
        _optional(name, "runtime", self.runtime, _RUNTIME)
        _optional(name, "features", self.features, _IDENTIFIER)
        _optional(name, "target", self.target, None)
        if self.task is not None and self.task not in TASKS:
            raise _fail(
                name, "task", f"must be one of {', '.join(TASKS)} or None, got {self.task!r}"
            )
        if self.entity_rows is not None and (
            not isinstance(self.entity_rows, str)
            or not self.entity_rows.strip()
            or len(self.entity_rows) > MAX_ENTITY_ROWS
        ):
            raise _fail(
                name,
                "entity_rows",
                f"must be a parquet path or a SQL query of 1 to {MAX_ENTITY_ROWS} characters",
            )
        object.__setattr__(self, "params", _check_params(name, self.params))
        for field_name, value, limit in (
            ("owner", self.owner, 256),
            ("description", self.description, MAX_TEXT),
        ):
            if not isinstance(value, str) or len(value) > limit:
                raise _fail(name, field_name, f"must be a string of at most {limit} characters")
        if not isinstance(self.tags, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.tags.items()
        ):
            raise _fail(name, "tags", "must be a dict of strings to strings")
        try:
            object.__setattr__(self, "tags", dict(check_tags(dict(self.tags))))
        except InvalidArgument as exc:
            raise _fail(name, "tags", exc.message) from None

    def to_json(self) -> dict[str, Any]:
        """The spec as plain JSON (what is stored and sent)."""
        return {
            "name": self.name,
            "entry": self.entry,
            "runtime": self.runtime,
            "features": self.features,
            "target": self.target,
            "task": self.task,
            "entity_rows": self.entity_rows,
            "params": dict(self.params),
            "owner": self.owner,
            "description": self.description,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelDefinitionSpec:
        """Rebuild a spec; unknown keys and missing ``name``/``entry`` are refused."""
        if not isinstance(data, Mapping):
            raise InvalidArgument("a model definition spec must be a JSON object")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise _fail(
                data.get("name", "?"),
                unknown[0],
                f"is not a field; fields are {', '.join(_FIELDS)}",
            )
        for required in ("name", "entry"):
            if required not in data:
                raise _fail(data.get("name", "?"), required, "is required")
        return cls(
            name=data["name"],
            entry=data["entry"],
            runtime=data.get("runtime"),
            features=data.get("features"),
            target=data.get("target"),
            task=data.get("task"),
            entity_rows=data.get("entity_rows"),
            params=data.get("params") or {},
            owner=data.get("owner") or "",
            description=data.get("description") or "",
            tags=data.get("tags") or {},
        )

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the spec (the code package is not part of it)."""
        data = orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class DefinitionVersion:
    """One stored version of a definition: its fingerprint, code, author and what changed."""

    version: int
    fingerprint: str
    code_digest: str
    git_commit: str
    created_by: str
    created_at: datetime
    change: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DefinitionVersion:
        return cls(
            version=int(data["version"]),
            fingerprint=data["fingerprint"],
            code_digest=data["code_digest"],
            git_commit=data["git_commit"],
            created_by=data["created_by"],
            created_at=_time(data["created_at"]),
            change=data["change"],
        )


@dataclass(frozen=True, slots=True)
class ModelDefinition:
    """A definition in the Model Store at one version (the latest unless asked otherwise).

    ``entry`` is ``<path in the code package>:<function>``: extract the package
    (``code_digest``) and call :func:`griffin.training.models.resolve_entry` to get the train
    function. ``versions`` is filled by ``get`` (every version, oldest first), empty in lists.
    """

    project: str
    name: str
    version: int
    latest_version: int
    entry: str
    runtime: str | None
    features: str | None
    target: str | None
    task: str | None
    entity_rows: str | None
    params: dict[str, JsonScalar]
    owner: str
    description: str
    tags: dict[str, str]
    fingerprint: str
    code_digest: str
    git_commit: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    versions: tuple[DefinitionVersion, ...] = ()

    @property
    def spec(self) -> ModelDefinitionSpec:
        """The definition's spec (without the code digest)."""
        return ModelDefinitionSpec(
            name=self.name,
            entry=self.entry,
            runtime=self.runtime,
            features=self.features,
            target=self.target,
            task=self.task,
            entity_rows=self.entity_rows,
            params=self.params,
            owner=self.owner,
            description=self.description,
            tags=self.tags,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelDefinition:
        return cls(
            project=data["project"],
            name=data["name"],
            version=int(data["version"]),
            latest_version=int(data["latest_version"]),
            entry=data["entry"],
            runtime=data.get("runtime"),
            features=data.get("features"),
            target=data.get("target"),
            task=data.get("task"),
            entity_rows=data.get("entity_rows"),
            params=dict(data.get("params") or {}),
            owner=data.get("owner", ""),
            description=data.get("description", ""),
            tags=dict(data.get("tags") or {}),
            fingerprint=data["fingerprint"],
            code_digest=data.get("code_digest", ""),
            git_commit=data.get("git_commit", ""),
            created_by=data.get("created_by", ""),
            created_at=_time(data["created_at"]),
            updated_at=_time(data["updated_at"]),
            versions=tuple(DefinitionVersion.from_json(v) for v in data.get("versions", [])),
        )


@dataclass(frozen=True, slots=True)
class PackageSummary:
    """The code package a plan was made with (filled in by the SDK, which built it)."""

    digest: str
    files: int
    size_bytes: int
    git_commit: str = ""
    dirty: bool = False
    uploaded: bool = False


@dataclass(frozen=True, slots=True)
class ModelPlanItem:
    """What ``plan`` found (or ``apply`` did) for one definition.

    ``version`` is the stored version before the change (None if absent), ``new_version`` the
    one written (or to be written); ``changes`` are spec fields; ``code_changed`` says the
    code package differs from the stored version's (``old_code_digest``).
    """

    action: Action
    name: str
    version: int | None = None
    new_version: int | None = None
    changes: tuple[SpecChange, ...] = ()
    code_changed: bool = False
    old_code_digest: str = ""
    code_digest: str = ""

    def describe(self) -> str:
        """What changed, in a line: spec fields and the code."""
        parts = [str(c) for c in self.changes]
        if self.code_changed:
            parts.append(f"code {_short(self.old_code_digest)} -> {_short(self.code_digest)}")
        return "; ".join(parts)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelPlanItem:
        return cls(
            action=data["action"],
            name=data["name"],
            version=data.get("version"),
            new_version=data.get("new_version"),
            changes=tuple(SpecChange.from_json(c) for c in data.get("changes", [])),
            code_changed=bool(data.get("code_changed", False)),
            old_code_digest=data.get("old_code_digest", ""),
            code_digest=data.get("code_digest", ""),
        )


def _short(digest: str) -> str:
    return digest[:12] if digest else "(none)"


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """The difference between a project's model definitions and its Model Store.

    Definitions in the store but not in the project are reported (``not_in_definitions``),
    never deleted. ``applied`` is True when ``apply`` wrote it.
    """

    project: str
    items: tuple[ModelPlanItem, ...]
    code_digest: str = ""
    git_commit: str = ""
    applied: bool = False
    package: PackageSummary | None = None

    def of(self, action: Action) -> list[ModelPlanItem]:
        return [i for i in self.items if i.action == action]

    @property
    def has_changes(self) -> bool:
        return any(i.action in ("create", "update") for i in self.items)

    def summary(self) -> str:
        n = {a: len(self.of(a)) for a in ("create", "update", "unchanged", "not_in_definitions")}
        head = (
            f"applied: {n['create']} created, {n['update']} updated"
            if self.applied
            else f"plan: {n['create']} to create, {n['update']} to update"
        )
        return (
            f"{head}, {n['unchanged']} unchanged, {n['not_in_definitions']} not in your "
            "definitions (kept, never deleted)"
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelPlan:
        package = data.get("package")
        return cls(
            project=data["project"],
            items=tuple(ModelPlanItem.from_json(i) for i in data["items"]),
            code_digest=data.get("code_digest", ""),
            git_commit=data.get("git_commit", ""),
            applied=bool(data.get("applied", False)),
            package=PackageSummary(**package) if isinstance(package, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file that differs between two code packages."""

    path: str
    op: Literal["added", "removed", "modified"]
    old_size: int | None = None
    new_size: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileChange:
        return cls(
            path=data["path"],
            op=data["op"],
            old_size=data.get("old_size"),
            new_size=data.get("new_size"),
        )


@dataclass(frozen=True, slots=True)
class DefinitionDiff:
    """How two versions of a definition differ: spec fields, code digest and files.

    ``files_compared`` is False when a version has no package (or it is no longer stored), so
    ``files`` could not be listed.
    """

    project: str
    name: str
    from_version: int
    to_version: int
    changes: tuple[SpecChange, ...]
    code_changed: bool
    from_code_digest: str
    to_code_digest: str
    files_compared: bool = False
    files: tuple[FileChange, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DefinitionDiff:
        return cls(
            project=data["project"],
            name=data["name"],
            from_version=int(data["from_version"]),
            to_version=int(data["to_version"]),
            changes=tuple(SpecChange.from_json(c) for c in data.get("changes", [])),
            code_changed=bool(data["code_changed"]),
            from_code_digest=data.get("from_code_digest", ""),
            to_code_digest=data.get("to_code_digest", ""),
            files_compared=bool(data.get("files_compared", False)),
            files=tuple(FileChange.from_json(f) for f in data.get("files", [])),
        )
