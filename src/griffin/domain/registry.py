"""What the model registry hands back: registered models, their versions, lineage and aliases.

Plain frozen dataclasses shared by the services, the REST schemas and the SDK (which rebuilds
them from JSON with the ``from_json`` constructors), plus the naming rules every interface
enforces: model names, alias names and promotion gates (``auc>=0.85``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from griffin.domain.validation import MAX_KEY_LENGTH, check_key
from griffin.errors import InvalidArgument

__all__ = [
    "EVALUATED_ON_TAG",
    "JOB_TAG",
    "LATEST",
    "TARGET_TAG",
    "TASK_TAG",
    "AliasChange",
    "AliasEvent",
    "FeatureUse",
    "Gate",
    "Lineage",
    "ModelVersion",
    "RegisteredModel",
    "check_alias",
    "check_model_name",
    "parse_gate",
    "parse_model_ref",
]

# Tags Griffin puts on the versions it registers: a training job's target column and task (the
# defaults of an evaluation), the job that trained it, and what an evaluation scored.
TARGET_TAG = "griffin.target"
TASK_TAG = "griffin.task"
JOB_TAG = "griffin.job_id"
EVALUATED_ON_TAG = "griffin.evaluated_on"

LATEST = "latest"  # reserved: ``name@latest`` is the newest version, never a stored alias
MAX_MODEL_NAME_LENGTH = 128
# No spaces, '/' or '@': a model reference is ``name@alias`` or ``name/3``.
_MODEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-.]{0,127}")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_GATE = re.compile(r"\s*([A-Za-z0-9_\-./:]+)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*")
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def check_model_name(name: str) -> str:
    """A registered model's name: 1-128 letters, digits and ``_ - .``, not starting with a
    digit, ``-`` or ``.`` (no spaces, ``/`` or ``@``: they separate a reference's parts)."""
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        shown = str(name)[:40]
        raise InvalidArgument(
            f"invalid model name {shown!r}: use 1 to {MAX_MODEL_NAME_LENGTH} letters, digits "
            "and _ - . , starting with a letter or _",
            details={"field": "name", "name": shown},
        )
    return name


def check_alias(alias: str) -> str:
    """An alias: a letter then up to 63 letters, digits, ``_`` and ``-``; not ``latest``."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        shown = str(alias)[:40]
        raise InvalidArgument(
            f"invalid alias {shown!r}: use 1 to 64 letters, digits, _ and -, starting with a "
            "letter (e.g. champion)",
            details={"field": "alias", "alias": shown},
        )
    if alias.lower() == LATEST:
        raise InvalidArgument(
            "'latest' is reserved (name@latest is always the newest version); choose another "
            "alias name",
            details={"field": "alias", "alias": alias},
        )
    return alias


def parse_model_ref(ref: str) -> tuple[str, str]:
    """``name@alias``, ``name@latest`` or ``name/3`` -> (name, version-or-alias)."""
    name, sep, rest = ref.partition("@")
    if not sep:
        name, sep, rest = ref.rpartition("/")
        if not sep or not rest.isdigit():
            raise InvalidArgument(
                f"invalid model reference {ref[:80]!r}: use name@alias, name@latest or "
                "name/VERSION",
                details={"field": "ref"},
            )
    check_model_name(name)
    if not rest:
        raise InvalidArgument(
            f"invalid model reference {ref[:80]!r}: nothing after the '@'",
            details={"field": "ref"},
        )
    return name, rest


@dataclass(frozen=True, slots=True)
class Gate:
    """One promotion condition: ``metric OP threshold``."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"

    def check(self, metrics: Mapping[str, float]) -> str | None:
        """None when met, else why not (a missing or NaN metric fails the gate)."""
        value = metrics.get(self.metric)
        if value is None:
            return f"{self}: the version has no metric '{self.metric}'"
        if math.isnan(value) or not _OPS[self.op](value, self.threshold):
            return f"{self}: {self.metric} is {value:g}"
        return None


def parse_gate(expression: str) -> Gate:
    """``"auc>=0.85"`` -> Gate; operators >=, >, <=, <, ==, !=."""
    match = _GATE.fullmatch(expression or "")
    if match is None:
        raise InvalidArgument(
            f"invalid requirement {expression[:80]!r}: write METRIC OP NUMBER with OP one of "
            ">=, >, <=, <, ==, != (e.g. auc>=0.85)",
            details={"field": "require", "expression": expression[:80]},
        )
    metric, op, number = match.groups()
    check_key(metric, field="metric name")
    try:
        threshold = float(number)
    except ValueError:
        threshold = math.nan
    if not math.isfinite(threshold):
        raise InvalidArgument(
            f"invalid requirement {expression[:80]!r}: {number[:40]!r} is not a finite number",
            details={"field": "require", "expression": expression[:80]},
        )
    return Gate(metric, op, threshold)


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidArgument(f"lineage.{key} must be an integer", details={"field": key})
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"lineage.{key} must be an integer", details={"field": key}) from None


@dataclass(frozen=True, slots=True)
class FeatureUse:
    """Features a version read from one feature view (at one view version, when known)."""

    view: str
    version: int | None = None
    features: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"view": self.view, "version": self.version, "features": list(self.features)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureUse:
        if not isinstance(data, Mapping) or not isinstance(data.get("view"), str):
            raise InvalidArgument(
                "each lineage.features item needs a 'view' name", details={"field": "features"}
            )
        check_key(data["view"], field="feature view name")
        features = data.get("features") or ()
        if not isinstance(features, list | tuple) or not all(isinstance(f, str) for f in features):
            raise InvalidArgument(
                "lineage.features[].features must be a list of names",
                details={"field": "features"},
            )
        return cls(view=data["view"], version=_opt_int(data, "version"), features=tuple(features))


_LINEAGE_STRINGS = (
    "job_id",
    "run_id",
    "dataset",
    "feature_service",
    "model_definition",
    "code_digest",
    "git_commit",
    "runtime",
)


@dataclass(frozen=True, slots=True)
class Lineage:
    """What a version was trained on and by what; every field is optional."""

    job_id: str | None = None
    run_id: str | None = None
    dataset: str | None = None
    dataset_version: int | None = None
    feature_service: str | None = None
    feature_service_version: int | None = None
    features: tuple[FeatureUse, ...] = ()
    model_definition: str | None = None
    model_definition_version: int | None = None
    code_digest: str | None = None
    git_commit: str | None = None
    runtime: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "run_id": self.run_id,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "feature_service": self.feature_service,
            "feature_service_version": self.feature_service_version,
            "features": [f.to_json() for f in self.features],
            "model_definition": self.model_definition,
            "model_definition_version": self.model_definition_version,
            "code_digest": self.code_digest,
            "git_commit": self.git_commit,
            "runtime": self.runtime,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Lineage:
        """Rebuild (and check) lineage; unknown keys are refused so typos are not lost."""
        if not data:
            return cls()
        known = {*_LINEAGE_STRINGS, "features"} | {
            "dataset_version",
            "feature_service_version",
            "model_definition_version",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgument(
                f"unknown lineage field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
                details={"field": "lineage", "unknown": unknown},
            )
        for key in _LINEAGE_STRINGS:
            value = data.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_KEY_LENGTH):
                raise InvalidArgument(
                    f"lineage.{key} must be a string of at most {MAX_KEY_LENGTH} characters",
                    details={"field": key},
                )
        features = data.get("features") or []
        if not isinstance(features, list | tuple):
            raise InvalidArgument("lineage.features must be a list", details={"field": "features"})
        return cls(
            job_id=_opt_str(data, "job_id"),
            run_id=_opt_str(data, "run_id"),
            dataset=_opt_str(data, "dataset"),
            dataset_version=_opt_int(data, "dataset_version"),
            feature_service=_opt_str(data, "feature_service"),
            feature_service_version=_opt_int(data, "feature_service_version"),
            features=tuple(FeatureUse.from_json(f) for f in features),
            model_definition=_opt_str(data, "model_definition"),
            model_definition_version=_opt_int(data, "model_definition_version"),
            code_digest=_opt_str(data, "code_digest"),
            git_commit=_opt_str(data, "git_commit"),
            runtime=_opt_str(data, "runtime"),
        )


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One trained version of a registered model.

    ``source`` is where its files are (``runs:/<run_id>/<path>``, the run's artifacts);
    ``aliases`` are the aliases pointing at it now.
    """

    name: str
    version: int
    source: str
    flavor: str
    signature: dict[str, Any]
    metrics: dict[str, float]
    params: dict[str, str]
    lineage: Lineage
    tags: dict[str, str]
    description: str
    created_by: str
    created_at: datetime
    aliases: tuple[str, ...] = ()

    @property
    def run_id(self) -> str | None:
        """The run whose artifacts hold the files, from ``runs:/<run_id>/<path>``."""
        return self.source[len("runs:/") :].partition("/")[0] if self.is_run_source else None

    @property
    def artifact_path(self) -> str:
        """The folder (or file) under the run's artifacts; empty for the whole run."""
        return self.source[len("runs:/") :].partition("/")[2] if self.is_run_source else ""

    @property
    def is_run_source(self) -> bool:
        return self.source.startswith("runs:/")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelVersion:
        return cls(
            name=data["name"],
            version=int(data["version"]),
            source=data["source"],
            flavor=data["flavor"],
            signature=dict(data.get("signature") or {}),
            metrics={str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
            params=dict(data.get("params") or {}),
            lineage=Lineage.from_json(data.get("lineage")),
            tags=dict(data.get("tags") or {}),
            description=data.get("description", ""),
            created_by=data.get("created_by", ""),
            created_at=_time(data["created_at"]),
            aliases=tuple(data.get("aliases") or ()),
        )


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A registered model: its newest version number and where its aliases point."""

    project: str
    name: str
    description: str
    tags: dict[str, str]
    latest_version: int
    aliases: dict[str, int]
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RegisteredModel:
        return cls(
            project=data["project"],
            name=data["name"],
            description=data.get("description", ""),
            tags=dict(data.get("tags") or {}),
            latest_version=int(data["latest_version"]),
            aliases={str(k): int(v) for k, v in (data.get("aliases") or {}).items()},
            created_by=data.get("created_by", ""),
            created_at=_time(data["created_at"]),
            updated_at=_time(data["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class AliasEvent:
    """One change of an alias: set (``from_version`` None), moved, or deleted
    (``to_version`` None), by whom and when."""

    alias: str
    from_version: int | None
    to_version: int | None
    user: str
    at: datetime

    @property
    def action(self) -> str:
        if self.to_version is None:
            return "deleted"
        return "set" if self.from_version is None else "moved"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AliasEvent:
        return cls(
            alias=data["alias"],
            from_version=data.get("from_version"),
            to_version=data.get("to_version"),
            user=data.get("user", ""),
            at=_time(data["at"]),
        )


@dataclass(frozen=True, slots=True)
class AliasChange:
    """What setting, moving, deleting or promoting an alias did (``changed``: False when the
    alias already pointed there)."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    changed: bool

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "changed": self.changed,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AliasChange:
        return cls(
            name=data["name"],
            alias=data["alias"],
            from_version=data.get("from_version"),
            to_version=data.get("to_version"),
            changed=bool(data.get("changed")),
        )
