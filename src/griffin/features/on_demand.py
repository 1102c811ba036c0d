"""On-demand feature views: a Python function of other features and request fields.

The same function runs offline (training data) and online (serving), so the two cannot drift.
The registry stores the function's source text and its sha256, never a pickle: a view rebuilt
from its spec can be shown and diffed, and runs only once the project's definitions are
imported again.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from griffin.errors import InvalidArgument, NotSupported

from .common import (
    FeatureType,
    Resolver,
    check_identifier,
    check_items,
    check_kind,
    check_meta,
    fail,
    fingerprint_of,
    resolved,
    spec_field,
)
from .definitions import Feature, FeatureView, FeatureViewProjection
from .sources import RequestSource

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OnDemandFeatureView", "OnDemandInput", "Udf", "on_demand_feature_view"]

Udf = Callable[["pd.DataFrame"], "pd.DataFrame"]
OnDemandInput = FeatureView | FeatureViewProjection | RequestSource


@dataclass(frozen=True, slots=True, init=False)
class OnDemandFeatureView:
    """Features computed at read time by ``udf`` from other features and request fields.

    Args:
        name: the view's name (unique among views and on-demand views).
        sources: its inputs: feature views, selections ``view[["a"]]`` and request sources.
            Input columns keep their plain names, so two inputs may not share a column name.
        features: the columns ``udf`` returns.
        udf: a function from a pandas DataFrame of the input columns to a DataFrame with the
            ``features`` columns, row for row.
        description: free text shown in the catalog.
        owner: the team or person to ask about it.
        tags: free-form labels for search.

    Also usable as a decorator: see :func:`on_demand_feature_view`.
    """

    kind: ClassVar[str] = "on_demand_feature_view"
    name: str
    sources: tuple[OnDemandInput, ...]
    features: tuple[Feature, ...]
    udf: Udf | None = field(compare=False)
    udf_name: str
    udf_source: str
    description: str
    owner: str
    tags: Mapping[str, str]

    def __init__(
        self,
        name: str,
        sources: Sequence[OnDemandInput],
        features: Sequence[Feature],
        udf: Udf,
        *,
        description: str = "",
        owner: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if not callable(udf):
            raise fail(f"on-demand feature view {name!r}", "udf", "must be a function")
        text = function_source(udf, where=f"on-demand feature view {name!r}")
        self._setup(name, sources, features, udf, udf.__name__, text, description, owner, tags)

    def _setup(
        self,
        name: str,
        sources: Sequence[OnDemandInput],
        features: Sequence[Feature],
        udf: Udf | None,
        udf_name: str,
        udf_source: str,
        description: str,
        owner: str,
        tags: Mapping[str, str] | None,
    ) -> None:
        where = f"on-demand feature view {name!r}"
        check_identifier(name, where=where, field="name")
        inputs = check_items(sources, OnDemandInput, where, "sources")
        outputs: tuple[Feature, ...] = check_items(features, Feature, where, "features")
        columns: dict[str, str] = {}
        for source in inputs:
            label = f"{type(source).__name__} {source.name!r}"
            for column in _input_columns(source):
                if column in columns:
                    raise fail(
                        where, "sources", f"{columns[column]} and {label} both give {column!r}"
                    )
                columns[column] = label
        seen: set[str] = set()
        for feature in outputs:
            if feature.name in seen:
                raise fail(where, "features", f"lists the feature {feature.name!r} twice")
            if feature.name in columns:
                raise fail(
                    where,
                    "features",
                    f"{feature.name!r} is also an input column (from {columns[feature.name]})",
                )
            seen.add(feature.name)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "sources", inputs)
        object.__setattr__(self, "features", outputs)
        object.__setattr__(self, "udf", udf)
        object.__setattr__(self, "udf_name", udf_name)
        object.__setattr__(self, "udf_source", udf_source)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "owner", owner)
        object.__setattr__(self, "tags", check_meta(where, description, owner, tags))

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def udf_sha256(self) -> str:
        """sha256 of the function's source text: changes whenever the code does."""
        return hashlib.sha256(self.udf_source.encode()).hexdigest()

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        """Run the function on a DataFrame of input columns; return the declared features."""
        import pandas as pd

        if self.udf is None:
            raise NotSupported(
                f"on-demand feature view {self.name!r} was rebuilt from its registry spec and has "
                "no function to run; import the project's definitions to run it"
            )
        result = self.udf(df)
        if not isinstance(result, pd.DataFrame):
            raise InvalidArgument(
                f"on-demand feature view {self.name!r}: {self.udf_name}() returned "
                f"{type(result).__name__}, not a pandas DataFrame"
            )
        missing = [n for n in self.feature_names if n not in result.columns]
        if missing:
            raise InvalidArgument(
                f"on-demand feature view {self.name!r}: {self.udf_name}() returned no column "
                f"{', '.join(map(repr, missing))}"
            )
        if len(result) != len(df):
            raise InvalidArgument(
                f"on-demand feature view {self.name!r}: {self.udf_name}() returned {len(result)} "
                f"rows for {len(df)} input rows; it must keep one row per input row"
            )
        return result[list(self.feature_names)]

    def spec(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "features": [f.spec() for f in self.features],
            "kind": self.kind,
            "name": self.name,
            "owner": self.owner,
            "sources": [_input_spec(s) for s in self.sources],
            "tags": dict(sorted(self.tags.items())),
            "udf": {"name": self.udf_name, "sha256": self.udf_sha256, "source": self.udf_source},
        }

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec())

    @classmethod
    def from_spec(
        cls, spec: Mapping[str, Any], resolve: Resolver | None = None
    ) -> OnDemandFeatureView:
        """Rebuild the view without its function (``udf`` is None); ``resolve`` finds views."""
        check_kind(spec, cls.kind)
        name = spec_field(spec, "name", cls.kind, str)
        where = f"on-demand feature view spec {name!r}"
        udf = spec_field(spec, "udf", cls.kind, dict)
        text = spec_field(udf, "source", "udf", str)
        if hashlib.sha256(text.encode()).hexdigest() != udf.get("sha256"):
            raise fail(where, "udf", "source text does not match its sha256")
        inputs: list[OnDemandInput] = []
        for item in spec_field(spec, "sources", cls.kind, list):
            if "request_source" in item:
                inputs.append(RequestSource.from_spec(item["request_source"]))
            else:
                view = resolved(resolve, "feature_view", item.get("view"), FeatureView, where)
                inputs.append(view[spec_field(item, "features", "source", list)])
        self = object.__new__(cls)
        self._setup(
            name,
            inputs,
            [Feature.from_spec(f) for f in spec_field(spec, "features", cls.kind, list)],
            None,
            spec_field(udf, "name", "udf", str),
            text,
            spec_field(spec, "description", cls.kind, str),
            spec_field(spec, "owner", cls.kind, str),
            spec_field(spec, "tags", cls.kind, dict),
        )
        return self


def on_demand_feature_view(
    *,
    sources: Sequence[OnDemandInput],
    features: Sequence[Feature],
    name: str | None = None,
    description: str = "",
    owner: str = "",
    tags: Mapping[str, str] | None = None,
) -> Callable[[Udf], OnDemandFeatureView]:
    """Decorator form: the function becomes the view's ``udf`` and (by default) its name.

    ::

        @on_demand_feature_view(sources=[trips[["distance"]], request], features=[...])
        def speed(df: pd.DataFrame) -> pd.DataFrame: ...
    """

    def wrap(udf: Udf) -> OnDemandFeatureView:
        view_name = name if name is not None else str(getattr(udf, "__name__", ""))
        return OnDemandFeatureView(
            view_name,
            sources,
            features,
            udf,
            description=description or inspect.getdoc(udf) or "",
            owner=owner,
            tags=tags,
        )

    return wrap


def function_source(udf: Callable[..., Any], *, where: str) -> str:
    """The dedented source of ``udf`` without its decorators (what the registry stores)."""
    try:
        text = textwrap.dedent(inspect.getsource(udf))
    except (OSError, TypeError) as exc:
        raise fail(
            where, "udf", f"has no readable source ({exc}); define it in a .py file"
        ) from None
    try:
        node = ast.parse(text).body[0]
    except (SyntaxError, IndexError):
        return text  # e.g. a lambda inside a larger expression: keep the lines as they are
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
        lines = text.splitlines()[node.lineno - 1 : node.end_lineno]
        return "\n".join(lines) + "\n"
    return text


def _input_columns(source: OnDemandInput) -> tuple[str, ...]:
    if isinstance(source, RequestSource):
        return source.field_names
    return source.feature_names


def _input_spec(source: OnDemandInput) -> dict[str, Any]:
    if isinstance(source, RequestSource):
        return {"request_source": source.spec()}
    # Whole views are pinned to their current feature list: the spec says exactly what the
    # function reads, and a feature added to the view later makes a new version of this one.
    return {"features": list(source.feature_names), "view": source.name}


def input_types(view: OnDemandFeatureView) -> dict[str, FeatureType]:
    """Input column -> type, as the function receives them."""
    types: dict[str, FeatureType] = {}
    for source in view.sources:
        if isinstance(source, RequestSource):
            types.update(source.schema)
        else:
            base = source.view if isinstance(source, FeatureViewProjection) else source
            types.update({n: base.feature(n).dtype for n in source.feature_names})
    return types
