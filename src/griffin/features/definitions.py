"""Entities, features and feature views: what a project's ``features.py`` declares.

Every object validates its arguments when it is built, so a mistake fails at import with an
``InvalidArgument`` naming the object and the field (and, for unknown names, the closest
existing ones), long before ``plan``, training or serving.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from .checks import Check, InRange, check_from_spec
from .common import (
    Feature,
    FeatureType,
    Resolver,
    check_identifier,
    check_items,
    check_kind,
    check_meta,
    fail,
    fingerprint_of,
    resolved,
    seconds,
    spec_field,
    unknown_name,
)
from .sources import ParquetSource, PushSource, RequestSource, SqlSource, source_from_spec

__all__ = ["Entity", "Feature", "FeatureView", "FeatureViewProjection", "ViewSource"]

ViewSource = ParquetSource | SqlSource | PushSource


@dataclass(frozen=True, slots=True, init=False)
class Entity:
    """A thing features describe (a driver, a store), identified by its join keys.

    Args:
        name: the entity's name, e.g. ``"driver"``.
        join_keys: the key columns; default ``[name]``, or the keys of ``dtype`` when it is
            a dict.
        dtype: the keys' type, or a dict of join key -> type for several keys of different
            types.
        description: free text shown in the catalog.
        owner: the team or person to ask about it.
        tags: free-form labels for search.
    """

    kind: ClassVar[str] = "entity"
    name: str
    join_keys: tuple[str, ...]
    dtypes: Mapping[str, FeatureType]
    description: str
    owner: str
    tags: Mapping[str, str]

    def __init__(
        self,
        name: str,
        join_keys: Sequence[str] | None = None,
        *,
        dtype: FeatureType | str | Mapping[str, FeatureType | str] = FeatureType.STRING,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        where = f"entity {name!r}"
        check_identifier(name, where=where, field="name")
        if join_keys is None:
            keys = list(dtype) if isinstance(dtype, Mapping) else [name]
        elif isinstance(join_keys, str) or not isinstance(join_keys, Sequence):
            raise fail(where, "join_keys", f"must be a list of column names, got {join_keys!r}")
        else:
            keys = list(join_keys)
        if not keys:
            raise fail(where, "join_keys", "is empty: an entity needs at least one join key")
        for key in keys:
            check_identifier(key, where=where, field="join_keys")
        if len(set(keys)) != len(keys):
            raise fail(where, "join_keys", f"lists a key twice: {keys}")
        if isinstance(dtype, Mapping):
            if set(dtype) != set(keys):
                raise fail(where, "dtype", f"must give a type for each join key {keys} exactly")
            types = {k: FeatureType.parse(dtype[k], where=f"{where} dtype of {k!r}") for k in keys}
        else:
            one = FeatureType.parse(dtype, where=f"{where} dtype")
            types = dict.fromkeys(keys, one)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "join_keys", tuple(keys))
        object.__setattr__(self, "dtypes", types)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "tags", check_meta(where, description, owner, tags))

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def spec(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "dtypes": {k: str(v) for k, v in sorted(self.dtypes.items())},
            "join_keys": list(self.join_keys),
            "kind": self.kind,
            "name": self.name,
            "owner": self.owner,
            "tags": dict(sorted(self.tags.items())),
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], resolve: Resolver | None = None) -> Entity:
        check_kind(spec, cls.kind)
        return cls(
            spec_field(spec, "name", cls.kind, str),
            spec_field(spec, "join_keys", cls.kind, list),
            dtype=spec_field(spec, "dtypes", cls.kind, dict),
            description=spec_field(spec, "description", cls.kind, str),
            owner=spec_field(spec, "owner", cls.kind, str),
            tags=spec_field(spec, "tags", cls.kind, dict),
        )


@dataclass(frozen=True, slots=True, init=False)
class FeatureView:
    """A group of features of the same entities, read from one source.

    Args:
        name: the view's name (unique among views and on-demand views).
        entities: the entities its rows describe (at least one).
        features: its feature columns (at least one; no name shared with a join key or a
            timestamp column of the source).
        source: a ``ParquetSource``, ``SqlSource`` or ``PushSource``.
        ttl: how far back a point-in-time join looks for a row; ``None`` means no limit.
        online: whether ``materialize`` copies the view to the online store.
        owner: the team or person to ask about it.
        tags: free-form labels for search.
        description: free text shown in the catalog.
        checks: data checks run before any write (see :mod:`griffin.features.checks`).

    ``view[["a", "b"]]`` selects some of its features for a service or an on-demand view.
    """

    kind: ClassVar[str] = "feature_view"
    name: str
    entities: tuple[Entity, ...]
    features: tuple[Feature, ...]
    source: ViewSource
    ttl: timedelta | None
    online: bool
    owner: str
    tags: Mapping[str, str]
    description: str
    checks: tuple[Check, ...]

    def __init__(
        self,
        name: str,
        entities: Sequence[Entity],
        features: Sequence[Feature],
        source: ViewSource,
        *,
        ttl: timedelta | None = None,
        online: bool = True,
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        description: str = "",
        checks: Sequence[Check] = (),
    ) -> None:
        where = f"feature view {name!r}"
        check_identifier(name, where=where, field="name")
        ents = check_items(entities, Entity, where, "entities")
        feats = check_items(features, Feature, where, "features")
        keys: dict[str, str] = {}
        for entity in ents:
            for key in entity.join_keys:
                if key in keys:
                    raise fail(
                        where,
                        "entities",
                        f"{keys[key]!r} and {entity.name!r} share the join key {key!r}",
                    )
                keys[key] = entity.name
        if not isinstance(source, ParquetSource | SqlSource | PushSource):
            raise fail(
                where,
                "source",
                f"must be a ParquetSource, SqlSource or PushSource, got {type(source).__name__}"
                + (
                    " (request sources feed on-demand views)"
                    if isinstance(source, RequestSource)
                    else ""
                ),
            )
        reserved = {k: f"join key of entity {e!r}" for k, e in keys.items()}
        reserved.update(dict.fromkeys(source.timestamp_fields, "timestamp column of the source"))
        seen: set[str] = set()
        for feature in feats:
            if feature.name in seen:
                raise fail(where, "features", f"lists the feature {feature.name!r} twice")
            if feature.name in reserved:
                raise fail(where, "features", f"{feature.name!r} is the {reserved[feature.name]}")
            seen.add(feature.name)
        if ttl is not None:
            seconds(ttl, where=where, field="ttl")
        if not isinstance(online, bool):
            raise fail(where, "online", f"must be True or False, got {online!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "entities", ents)
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "ttl", ttl)
        object.__setattr__(self, "online", online)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "tags", check_meta(where, description, owner, tags))
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "checks", self._valid_checks(where, checks, set(reserved)))

    def _valid_checks(
        self, where: str, checks: Sequence[Check], others: set[str]
    ) -> tuple[Check, ...]:
        found: tuple[Check, ...] = check_items(checks, Check, where, "checks", allow_empty=True)
        dtypes = {f.name: f.dtype for f in self.features}
        columns = set(dtypes) | others
        for check in found:
            for column in check.columns:
                if column not in columns:
                    raise unknown_name(f"{where} check {check.name}", "column", column, columns)
            if (
                isinstance(check, InRange)
                and not dtypes.get(check.column, FeatureType.INT64).is_numeric
            ):
                raise fail(
                    where,
                    "checks",
                    f"in_range needs a numeric column; {check.column!r} is {dtypes[check.column]}",
                )
        return found

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def __getitem__(self, names: str | Sequence[str]) -> FeatureViewProjection:
        """``view[["a", "b"]]``: a selection of this view's features."""
        return FeatureViewProjection(self, (names,) if isinstance(names, str) else tuple(names))

    @property
    def join_keys(self) -> tuple[str, ...]:
        """The join keys of all its entities, in order."""
        return tuple(k for e in self.entities for k in e.join_keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def feature(self, name: str) -> Feature:
        """The feature called ``name`` (unknown names get the closest matches)."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise unknown_name(f"feature view {self.name!r}", "feature", name, self.feature_names)

    def spec(self) -> dict[str, Any]:
        return {
            "checks": [c.spec() for c in self.checks],
            "description": self.description,
            "entities": [e.name for e in self.entities],
            "features": [f.spec() for f in self.features],
            "kind": self.kind,
            "name": self.name,
            "online": self.online,
            "owner": self.owner,
            "source": self.source.spec(),
            "tags": dict(sorted(self.tags.items())),
            "ttl_seconds": None if self.ttl is None else self.ttl.total_seconds(),
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], resolve: Resolver | None = None) -> FeatureView:
        """Rebuild a view; ``resolve("entity", name)`` must return its entities."""
        check_kind(spec, cls.kind)
        name = spec_field(spec, "name", cls.kind, str)
        where = f"feature view spec {name!r}"
        entities = [
            resolved(resolve, "entity", e, Entity, where)
            for e in spec_field(spec, "entities", cls.kind, list)
        ]
        source = source_from_spec(spec_field(spec, "source", cls.kind, dict))
        if not isinstance(source, ParquetSource | SqlSource | PushSource):
            raise fail(where, "source", "is a request source")
        ttl = spec.get("ttl_seconds")
        return cls(
            name,
            entities,
            [Feature.from_spec(f) for f in spec_field(spec, "features", cls.kind, list)],
            source,
            ttl=None if ttl is None else timedelta(seconds=ttl),
            online=spec_field(spec, "online", cls.kind, bool),
            owner=spec_field(spec, "owner", cls.kind, str),
            tags=spec_field(spec, "tags", cls.kind, dict),
            description=spec_field(spec, "description", cls.kind, str),
            checks=[check_from_spec(c) for c in spec_field(spec, "checks", cls.kind, list)],
        )


@dataclass(frozen=True, slots=True)
class FeatureViewProjection:
    """Some of a view's features, in a chosen order: ``view[["a", "b"]]``."""

    view: FeatureView
    features: tuple[str, ...]

    def __post_init__(self) -> None:
        where = f"selection from feature view {self.view.name!r}"
        if not self.features:
            raise fail(where, "features", "is empty: select at least one feature")
        for name in self.features:
            if not isinstance(name, str):
                raise fail(where, "features", f"must be feature names, got {name!r}")
            self.view.feature(name)
        if len(set(self.features)) != len(self.features):
            raise fail(where, "features", f"selects a feature twice: {list(self.features)}")

    @property
    def name(self) -> str:
        """The view's name."""
        return self.view.name

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.features

    @property
    def join_keys(self) -> tuple[str, ...]:
        return self.view.join_keys

    def spec(self) -> dict[str, Any]:
        """How services and on-demand views refer to it: the view's name and the features."""
        return {"features": list(self.features), "view": self.view.name}
