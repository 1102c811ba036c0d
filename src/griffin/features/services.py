"""Feature services: the named set of features a model uses.

A service resolves to an ordered list of ``(view name, feature names)``. Output columns use
the plain feature names, and two sources giving the same name is an error naming both; with
``full_names=True`` they are ``view__feature`` instead (Feast's optional convention), which
never collides. The spec pins the exact feature list, so adding a feature to a view never
silently changes what a model receives: it makes a new version of the service at ``plan``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from .common import (
    Resolver,
    check_identifier,
    check_items,
    check_kind,
    check_meta,
    fail,
    fingerprint_of,
    resolved,
    spec_field,
    unknown_name,
)
from .definitions import FeatureView, FeatureViewProjection
from .on_demand import OnDemandFeatureView

__all__ = ["FeatureService", "ServiceItem", "ServicePart"]

ServiceItem = FeatureView | FeatureViewProjection | OnDemandFeatureView
_VIEW_KINDS = {"feature_view": FeatureView, "on_demand_feature_view": OnDemandFeatureView}


class ServicePart(NamedTuple):
    """One view's share of a service: its kind and name, the features and output columns."""

    kind: str
    view: str
    features: tuple[str, ...]
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True, init=False)
class FeatureService:
    """The set of features a model uses, from views, selections and on-demand views.

    Args:
        name: the service's name.
        features: ``[view, view[["a", "b"]], on_demand_view, ...]``; each view at most once.
        description: free text shown in the catalog.
        owner: the team or person to ask about it.
        tags: free-form labels for search.
        full_names: name output columns ``view__feature`` instead of ``feature``.
    """

    kind: ClassVar[str] = "feature_service"
    name: str
    features: tuple[ServiceItem, ...]
    description: str
    owner: str
    tags: Mapping[str, str]
    full_names: bool
    parts: tuple[ServicePart, ...]

    def __init__(
        self,
        name: str,
        features: Sequence[ServiceItem],
        *,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
        full_names: bool = False,
    ) -> None:
        where = f"feature service {name!r}"
        check_identifier(name, where=where, field="name")
        items: tuple[ServiceItem, ...] = check_items(
            features,
            FeatureView | FeatureViewProjection | OnDemandFeatureView,
            where,
            "features",
        )
        if not isinstance(full_names, bool):
            raise fail(where, "full_names", f"must be True or False, got {full_names!r}")
        views: set[str] = set()
        outputs: dict[str, str] = {}
        parts: list[ServicePart] = []
        for item in items:
            base = item.view if isinstance(item, FeatureViewProjection) else item
            if item.name in views:
                raise fail(
                    where,
                    "features",
                    f"uses view {item.name!r} twice; select all its features in one "
                    f"view[[...]] instead",
                )
            views.add(item.name)
            columns = tuple(f"{item.name}__{f}" if full_names else f for f in item.feature_names)
            for feature, column in zip(item.feature_names, columns, strict=True):
                if column in outputs:
                    raise fail(
                        where,
                        "features",
                        f"{outputs[column]} and {item.name}.{feature} both give the output "
                        f"column {column!r}; select one of them, or pass full_names=True",
                    )
                outputs[column] = f"{item.name}.{feature}"
            parts.append(ServicePart(base.kind, item.name, item.feature_names, columns))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "features", items)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "tags", check_meta(where, description, owner, tags))
        object.__setattr__(self, "full_names", full_names)
        object.__setattr__(self, "parts", tuple(parts))

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    @property
    def output_columns(self) -> tuple[str, ...]:
        """The feature columns a model receives, in order."""
        return tuple(c for part in self.parts for c in part.columns)

    def resolve(self) -> list[tuple[str, tuple[str, ...]]]:
        """The ordered ``(view name, feature names)`` pairs the service reads."""
        return [(part.view, part.features) for part in self.parts]

    def spec(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "features": [
                {"features": list(p.features), "kind": p.kind, "view": p.view} for p in self.parts
            ],
            "full_names": self.full_names,
            "kind": self.kind,
            "name": self.name,
            "owner": self.owner,
            "tags": dict(sorted(self.tags.items())),
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], resolve: Resolver | None = None) -> FeatureService:
        """Rebuild a service; ``resolve(kind, name)`` must return the views it names."""
        check_kind(spec, cls.kind)
        name = spec_field(spec, "name", cls.kind, str)
        where = f"feature service spec {name!r}"
        items: list[ServiceItem] = []
        for item in spec_field(spec, "features", cls.kind, list):
            kind = spec_field(item, "kind", "service item", str)
            if kind not in _VIEW_KINDS:
                raise unknown_name(where, "view kind", kind, _VIEW_KINDS)
            view = resolved(
                resolve,
                kind,
                spec_field(item, "view", "service item", str),
                _VIEW_KINDS[kind],
                where,
            )
            wanted = spec_field(item, "features", "service item", list)
            if isinstance(view, FeatureView):
                items.append(view[wanted])
            elif list(view.feature_names) == wanted:
                items.append(view)
            else:
                raise fail(where, "features", f"of {view.name!r} no longer match its features")
        return cls(
            name,
            items,
            description=spec_field(spec, "description", cls.kind, str),
            owner=spec_field(spec, "owner", cls.kind, str),
            tags=spec_field(spec, "tags", cls.kind, dict),
            full_names=spec_field(spec, "full_names", cls.kind, bool),
        )
