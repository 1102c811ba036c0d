"""A project's definitions: collected from its Python files and checked as one set.

:func:`load_definitions` imports a project's ``features.py`` (or every top-level ``*.py`` of a
folder), collects the definition objects from the modules' globals, and returns a validated
:class:`Definitions`. Objects a definition uses (a view's entities, a service's views) are
collected too, even when no global names them. A mistake in the user's file comes back as an
``InvalidArgument`` naming the file and line, never as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from griffin.errors import InvalidArgument
from griffin.usercode import import_file

from .common import unknown_name
from .definitions import Entity, FeatureView
from .on_demand import OnDemandFeatureView
from .services import FeatureService
from .sources import SqlSource, source_from_spec

__all__ = ["DefinitionObject", "Definitions", "NamedSource", "load_definitions", "overlay"]

# A SQL source registered on its own (``griffin features add-source``, REST), to be found in
# the catalog and reused by views; views still embed their source's spec.
NamedSource = SqlSource
DefinitionObject = Entity | FeatureView | OnDemandFeatureView | FeatureService | NamedSource
# Kinds in dependency order; views and on-demand views share one namespace because services
# and on-demand views refer to either by name alone.
_ORDER = {
    "source": 0,
    "entity": 1,
    "feature_view": 2,
    "on_demand_feature_view": 3,
    "feature_service": 4,
}
_NAMESPACE = {
    "source": "source",
    "entity": "entity",
    "feature_view": "view",
    "on_demand_feature_view": "view",
    "feature_service": "feature service",
}


class _SourceKind:
    """Rebuilds a registered source from its spec, like the other kinds' ``from_spec``."""

    @staticmethod
    def from_spec(spec: Mapping[str, Any], resolve: object = None) -> NamedSource:
        source = source_from_spec(spec)
        if not isinstance(source, SqlSource):
            raise InvalidArgument(
                f"source spec {spec.get('name')!r}: only SQL sources can be registered on their "
                "own; other sources are part of their feature view"
            )
        return source


_CLASSES: dict[str, Any] = {
    "source": _SourceKind,
    "entity": Entity,
    "feature_view": FeatureView,
    "on_demand_feature_view": OnDemandFeatureView,
    "feature_service": FeatureService,
}


class _Collector:
    """Adds objects and what they use, refusing two different objects with one name."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], tuple[DefinitionObject, str]] = {}

    def add(self, obj: DefinitionObject, origin: str) -> None:
        key = (_NAMESPACE[obj.kind], obj.name)
        if key in self.found:
            other, where = self.found[key]
            # The same definition reached twice (imported by a sibling file, or loaded again
            # under another module name) is fine; two different ones are a mistake.
            if other is obj or (other.kind == obj.kind and other.spec() == obj.spec()):
                return
            raise InvalidArgument(
                f"{key[0]} name {obj.name!r} is used twice: {_label(other)}{where} and "
                f"{_label(obj)}{origin}; names must be unique",
                details={"name": obj.name, "field": "name"},
            )
        self.found[key] = (obj, origin)
        for used in _uses(obj):
            self.add(used, f" (used by {obj.kind} {obj.name!r}{origin})")


def _label(obj: DefinitionObject) -> str:
    return f"{obj.kind.replace('_', ' ')} {obj.name!r}"


def _uses(obj: DefinitionObject) -> list[DefinitionObject]:
    if isinstance(obj, FeatureView):
        return list(obj.entities)
    if isinstance(obj, OnDemandFeatureView | FeatureService):
        found: list[DefinitionObject] = []
        for item in obj.sources if isinstance(obj, OnDemandFeatureView) else obj.features:
            view = getattr(item, "view", item)
            if isinstance(view, FeatureView | OnDemandFeatureView):
                found.append(view)
        return found
    return []


@dataclass(frozen=True, slots=True, init=False)
class Definitions:
    """A validated set of entities, feature views, on-demand views and feature services.

    Args:
        objects: the definitions; what they use is added too. Names are unique per kind
            (views and on-demand views share one namespace).
    """

    sources: tuple[NamedSource, ...]
    entities: tuple[Entity, ...]
    feature_views: tuple[FeatureView, ...]
    on_demand_views: tuple[OnDemandFeatureView, ...]
    services: tuple[FeatureService, ...]

    def __init__(self, objects: Iterable[DefinitionObject] = ()) -> None:
        collector = _Collector()
        for obj in objects:
            if not isinstance(
                obj, Entity | FeatureView | OnDemandFeatureView | FeatureService | NamedSource
            ):
                raise InvalidArgument(f"not a feature definition: {type(obj).__name__}")
            collector.add(obj, "")
        self._fill(collector)

    def _fill(self, collector: _Collector) -> None:
        objs = sorted(
            (o for o, _ in collector.found.values()), key=lambda o: (_ORDER[o.kind], o.name)
        )
        for attr, cls in (
            ("sources", SqlSource),
            ("entities", Entity),
            ("feature_views", FeatureView),
            ("on_demand_views", OnDemandFeatureView),
            ("services", FeatureService),
        ):
            object.__setattr__(self, attr, tuple(o for o in objs if isinstance(o, cls)))

    def __iter__(self) -> Iterator[DefinitionObject]:
        """Every object, dependencies first (sources, entities, views, on-demand views,
        services)."""
        yield from self.sources
        yield from self.entities
        yield from self.feature_views
        yield from self.on_demand_views
        yield from self.services

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def get(self, kind: str, name: str) -> DefinitionObject:
        """The object of ``kind`` called ``name``; unknown names get the closest matches."""
        if kind not in _ORDER:
            raise unknown_name("feature definitions", "kind", kind, _ORDER)
        same = [o for o in self if o.kind == kind]
        for obj in same:
            if obj.name == name:
                return obj
        raise unknown_name(
            "feature definitions", kind.replace("_", " "), name, [o.name for o in same]
        )

    def specs(self) -> list[dict[str, Any]]:
        """Every object's spec, dependencies first: one registry row each."""
        return [obj.spec() for obj in self]

    @classmethod
    def from_specs(cls, specs: Iterable[Mapping[str, Any]]) -> Definitions:
        """Rebuild a set from specs (e.g. registry rows); references are resolved by name."""
        pending = sorted(specs, key=lambda s: _ORDER.get(str(s.get("kind")), -1))
        built: list[DefinitionObject] = []

        def resolve(kind: str, name: str) -> DefinitionObject:
            same = [o for o in built if o.kind == kind]
            for obj in same:
                if obj.name == name:
                    return obj
            raise unknown_name(
                "feature definitions", kind.replace("_", " "), name, [o.name for o in same]
            )

        for spec in pending:
            kind = str(spec.get("kind"))
            if kind not in _CLASSES:
                raise unknown_name("feature definitions", "kind", kind, _ORDER)
            built.append(_CLASSES[kind].from_spec(spec, resolve))
        return cls(built)


def overlay(registry: Definitions, local: Definitions) -> Definitions:
    """``registry`` with ``local``'s objects in place of those of the same kind and name.

    The registry's other objects are rebuilt from their specs against the merged set, so a
    registered service that uses a local on-demand view runs the local function.

    Raises:
        InvalidArgument: the local definitions do not fit the registry's (e.g. a registered
            service selects a feature a local view no longer has).
    """
    built: dict[tuple[str, str], Any] = {(o.kind, o.name): o for o in local}

    def resolve(kind: str, name: str) -> Any:
        found = built.get((kind, name))
        if found is None:
            known = [n for k, n in built if k == kind]
            raise unknown_name("feature definitions", kind.replace("_", " "), name, known)
        return found

    try:
        for obj in registry:  # dependencies first
            if (obj.kind, obj.name) not in built:
                built[obj.kind, obj.name] = _CLASSES[obj.kind].from_spec(obj.spec(), resolve)
        return Definitions(built.values())
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"{exc.message}; your local definitions differ from the registry's: run "
            "`griffin features plan` to see how, and `griffin features apply`",
            details=exc.details,
        ) from None


def load_definitions(path: str | Path) -> Definitions:
    """Import a project's definitions from ``features.py`` or a folder of Python files.

    A folder contributes every ``*.py`` at its top level except tests (``test_*.py``,
    ``*_test.py``, ``conftest.py``) and private modules (``_*.py``). Each file is imported
    under a unique module name with its folder on ``sys.path``, so sibling imports work.
    """
    root = Path(path).expanduser().resolve()
    if root.is_dir():
        files = sorted(f for f in root.glob("*.py") if _is_definition_file(f.name))
        folder = root
    elif root.is_file() and root.suffix == ".py":
        files, folder = [root], root.parent
    else:
        raise InvalidArgument(
            f"no feature definitions at {str(path)!r}: give a features.py file or a folder",
            details={"field": "path"},
        )
    collector = _Collector()
    before = set(sys.modules)
    sys.path.insert(0, str(folder))
    try:
        for file in files:
            module = _import(file)
            for var, value in vars(module).items():
                if isinstance(value, Entity | FeatureView | OnDemandFeatureView | FeatureService):
                    collector.add(value, f" ({file.name}: {var})")
    finally:
        sys.path.remove(str(folder))
        # Forget the project's modules, so loading another project (or this one again after an
        # edit) never sees stale sibling modules.
        for name in set(sys.modules) - before:
            file_attr = getattr(sys.modules[name], "__file__", None)
            if name.startswith("_griffin_project_") or (
                file_attr and Path(file_attr).resolve().is_relative_to(folder)
            ):
                del sys.modules[name]
    result = object.__new__(Definitions)
    result._fill(collector)
    return result


def _is_definition_file(name: str) -> bool:
    return not (
        name.startswith(("_", "test_")) or name.endswith("_test.py") or name == "conftest.py"
    )


def _import(file: Path) -> Any:
    return import_file(
        file, prefix="_griffin_project_", owns=lambda name: name == str(file), error=_user_error
    )


def _user_error(file: Path, line: int | None, message: str) -> InvalidArgument:
    where = f"{file}:{line}" if line else str(file)
    return InvalidArgument(
        f"error in feature definitions {where}: {message}",
        details={"file": str(file), "line": line},
    )
