"""Which features a request wants: a feature service, or a list of views and features.

Training data, online reads and skew checks all take the same ``features`` argument and turn
it into a :class:`Selection` here, so they agree on which views are read, which output columns
come back and how on-demand views get their inputs:

- ``"trip_stats"`` names a feature service; a :class:`FeatureService` object works too.
- A list mixes ``"view:feature"``, ``"view"`` (all its features), view objects and
  selections ``view[["a", "b"]]``, and on-demand views (by name or object).

Output columns are the plain feature names; two features with the same name are an error
naming both unless ``full_names=True`` asks for ``view__feature``. The features an on-demand
view reads but the request did not ask for are fetched under hidden names and dropped at the
end. :meth:`Selection.finish` runs the on-demand views: offline and online call the same
method, so a model sees the same values in training and in serving.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from griffin.errors import InvalidArgument

from .common import FeatureType, unknown_name
from .definitions import FeatureView, FeatureViewProjection
from .on_demand import OnDemandFeatureView
from .project import Definitions
from .services import FeatureService
from .sources import RequestSource

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FeatureRefs",
    "OnDemandPart",
    "Selection",
    "ViewPart",
    "select",
    "storage_name",
]

FeatureItem = str | FeatureView | FeatureViewProjection | OnDemandFeatureView
FeatureRefs = FeatureService | str | Sequence[FeatureItem]
_HIDDEN = "__griffin_in__"


def storage_name(view: FeatureView) -> str:
    """The name a view's records are kept under online: ``name@digest`` of its layout.

    Records hold values by position, so the digest covers the join keys and the ordered
    feature names and types: a view whose layout changes gets a fresh namespace (and must be
    materialized again) instead of having old records read with the new layout.
    """
    layout = repr((view.join_keys, [(f.name, str(f.dtype)) for f in view.features])).encode()
    return f"{view.name}@{hashlib.sha256(layout).hexdigest()[:12]}"


@dataclass(frozen=True)
class ViewPart:
    """The features read from one feature view and the column each one lands in."""

    view: FeatureView
    features: tuple[str, ...]
    columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.view.name


@dataclass(frozen=True)
class OnDemandPart:
    """One on-demand view: the features asked for, their columns, and where its inputs are.

    Attributes:
        inputs: the function's input column -> the column holding it in the joined table.
    """

    view: OnDemandFeatureView
    features: tuple[str, ...]
    columns: tuple[str, ...]
    inputs: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.view.name


@dataclass(frozen=True)
class Selection:
    """A resolved request: the views to read, the on-demand views to run, the output columns.

    Attributes:
        views: the feature views to read, each with its features and their columns (hidden
            inputs of on-demand views included).
        on_demand: the on-demand views to run after the views are read.
        columns: the output feature columns, in the order asked for.
        hidden: columns read only as on-demand inputs; :meth:`finish` drops them.
        request_fields: request-time fields the on-demand views need, with their types.
        service: the feature service's name, when one was asked for.
    """

    views: tuple[ViewPart, ...]
    on_demand: tuple[OnDemandPart, ...]
    columns: tuple[str, ...]
    hidden: tuple[str, ...]
    request_fields: Mapping[str, FeatureType] = field(default_factory=dict)
    service: str | None = None

    @property
    def join_keys(self) -> tuple[str, ...]:
        """Every join key the views need, in first-use order."""
        return tuple(dict.fromkeys(k for part in self.views for k in part.view.join_keys))

    def refs(self) -> list[dict[str, Any]]:
        """What was used, for lineage: ``[{"kind", "view", "features"}]`` in request order."""
        out: list[dict[str, Any]] = []
        hidden = set(self.hidden)
        for part in self.views:
            wanted = [
                f for f, c in zip(part.features, part.columns, strict=True) if c not in hidden
            ]
            if wanted:
                out.append({"kind": "feature_view", "view": part.name, "features": wanted})
        out.extend(
            {"kind": "on_demand_feature_view", "view": p.name, "features": list(p.features)}
            for p in self.on_demand
        )
        return out

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Run the on-demand views on ``frame``, add their columns, drop hidden inputs.

        ``frame`` holds the views' columns and any request fields; the on-demand columns are
        added to it, and the frame without the hidden columns is returned. Offline (training
        data) and online (serving) both call this, so the two paths run exactly the same code.

        Raises:
            InvalidArgument: a request field is missing, or a function misbehaves.
            NotSupported: an on-demand view has no function to run (rebuilt from the
                registry); pass the project's definitions.
        """
        for part in self.on_demand:
            missing = [c for c in part.inputs.values() if c not in frame.columns]
            if missing:
                raise InvalidArgument(
                    f"on-demand feature view {part.name!r} needs "
                    f"{', '.join(map(repr, missing))}; pass it in the entity rows or "
                    "request data",
                    details={"view": part.name, "missing": missing},
                )
            inputs = frame[list(part.inputs.values())]
            inputs.columns = list(part.inputs.keys())
            result = part.view(inputs)
            for feature, column in zip(part.features, part.columns, strict=True):
                frame[column] = result[feature].to_numpy()
        if self.hidden:
            frame = frame.drop(columns=[c for c in self.hidden if c in frame.columns])
        return frame


def select(
    definitions: Definitions, features: FeatureRefs, *, full_names: bool = False
) -> Selection:
    """Resolve ``features`` against ``definitions``.

    Args:
        definitions: where names are looked up (the registry's, or the project's own, whose
            on-demand views carry their functions).
        features: a feature service (name or object), or a list of ``"view:feature"``,
            ``"view"``, view objects, selections and on-demand views.
        full_names: name output columns ``view__feature``; a feature service uses its own
            ``full_names`` setting instead.

    Raises:
        InvalidArgument: an unknown view, feature or service (naming the closest existing
            names), an empty list, or two features giving the same output column.
    """
    if isinstance(features, str) and ":" not in features:
        features = _lookup(definitions, "feature_service", features)
    if isinstance(features, FeatureService):
        return _Builder(definitions, features.full_names).build(features.features, features.name)
    if isinstance(features, str):
        features = [features]
    if not isinstance(features, Sequence) or not features:
        raise InvalidArgument(
            "features must be a feature service, or a non-empty list of 'view:feature' "
            "references, views and selections"
        )
    return _Builder(definitions, full_names).build([_item(definitions, f) for f in features], None)


@dataclass(frozen=True)
class _OnDemandSubset:
    view: OnDemandFeatureView
    features: tuple[str, ...]


def _lookup(definitions: Definitions, kind: str, name: str) -> Any:
    return definitions.get(kind, name)


def _view_or_on_demand(definitions: Definitions, name: str) -> FeatureView | OnDemandFeatureView:
    views: list[FeatureView | OnDemandFeatureView] = [
        *definitions.feature_views,
        *definitions.on_demand_views,
    ]
    for obj in views:
        if obj.name == name:
            return obj
    known = [o.name for o in views]
    raise unknown_name("features", "feature view", name, known)


def _item(definitions: Definitions, item: object) -> FeatureItem | _OnDemandSubset:
    if isinstance(item, FeatureView | FeatureViewProjection | OnDemandFeatureView):
        return item
    if not isinstance(item, str):
        raise InvalidArgument(
            f"features: {item!r} is not a 'view:feature' reference, a view or a selection"
        )
    name, has_feature, feature = item.partition(":")
    view = _view_or_on_demand(definitions, name)
    if not has_feature:
        return view
    if feature not in view.feature_names:
        raise unknown_name(f"feature view {view.name!r}", "feature", feature, view.feature_names)
    if isinstance(view, OnDemandFeatureView):
        if list(view.feature_names) != [feature]:
            # On-demand views compute all their features together; ask for one and the rest
            # are computed and dropped.
            return _OnDemandSubset(view, (feature,))
        return view
    return view[[feature]]


class _Builder:
    def __init__(self, definitions: Definitions, full_names: bool) -> None:
        self.definitions = definitions
        self.full_names = full_names
        self.views: dict[str, tuple[FeatureView, dict[str, str]]] = {}
        self.on_demand: dict[str, tuple[OnDemandFeatureView, dict[str, str]]] = {}
        self.owners: dict[str, str] = {}
        self.order: list[str] = []
        self.hidden: list[str] = []

    def _claim(self, column: str, owner: str) -> None:
        if column in self.owners and self.owners[column] != owner:
            raise InvalidArgument(
                f"features: {self.owners[column]} and {owner} both give the output column "
                f"{column!r}; select one of them, or pass full_names=True",
                details={"column": column},
            )
        self.owners[column] = owner

    def _column(self, view: str, feature: str) -> str:
        return f"{view}__{feature}" if self.full_names else feature

    def add_view(self, view: FeatureView, features: Sequence[str]) -> None:
        _, columns = self.views.setdefault(view.name, (view, {}))
        for feature in features:
            column = self._column(view.name, feature)
            current = columns.get(feature)
            if current is not None and current.startswith(_HIDDEN):
                self.hidden.remove(current)
            if current is None or current.startswith(_HIDDEN):
                self._claim(column, f"{view.name}.{feature}")
                columns[feature] = column
                self.order.append(column)

    def add_on_demand(self, view: OnDemandFeatureView, features: Sequence[str]) -> None:
        _, columns = self.on_demand.setdefault(view.name, (view, {}))
        for feature in view.feature_names:
            if feature in columns:
                continue
            if feature in features:
                column = self._column(view.name, feature)
                self._claim(column, f"{view.name}.{feature}")
                self.order.append(column)
            else:
                column = f"{_HIDDEN}{view.name}__{feature}"
                self.hidden.append(column)
            columns[feature] = column

    def input_column(self, view: FeatureView, feature: str) -> str:
        _, columns = self.views.setdefault(view.name, (view, {}))
        if feature not in columns:
            columns[feature] = f"{_HIDDEN}{view.name}__{feature}"
            self.hidden.append(columns[feature])
        return columns[feature]

    def build(self, items: Sequence[object], service: str | None) -> Selection:
        for item in items:
            if isinstance(item, FeatureViewProjection):
                self.add_view(item.view, item.features)
            elif isinstance(item, FeatureView):
                self.add_view(item, item.feature_names)
            elif isinstance(item, OnDemandFeatureView):
                self.add_on_demand(item, item.feature_names)
            elif isinstance(item, _OnDemandSubset):
                self.add_on_demand(item.view, item.features)
            else:
                raise InvalidArgument(f"features: unsupported item {item!r}")
        parts: list[OnDemandPart] = []
        request: dict[str, FeatureType] = {}
        for view, columns in self.on_demand.values():
            inputs: dict[str, str] = {}
            for source in view.sources:
                if isinstance(source, RequestSource):
                    request.update(source.schema)
                    inputs.update({f: f for f in source.field_names})
                    continue
                base = source.view if isinstance(source, FeatureViewProjection) else source
                for feature in source.feature_names:
                    inputs[feature] = self.input_column(base, feature)
            parts.append(
                OnDemandPart(
                    view,
                    tuple(columns),
                    tuple(columns.values()),
                    inputs,
                )
            )
        view_parts = tuple(
            ViewPart(view, tuple(columns), tuple(columns.values()))
            for view, columns in self.views.values()
        )
        hidden = list(self.hidden)
        return Selection(
            views=view_parts,
            on_demand=tuple(parts),
            columns=tuple(c for c in self.order if c not in set(hidden)),
            hidden=tuple(hidden),
            request_fields=request,
            service=service,
        )
