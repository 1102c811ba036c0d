"""Griffin's Feature Marketplace.

Everything a project's ``features.py`` needs is importable from here::

    from griffin.features import Entity, Feature, FeatureView, ParquetSource, in_range

Definitions live in :mod:`griffin.features.definitions`, :mod:`griffin.features.sources`,
:mod:`griffin.features.checks`, :mod:`griffin.features.on_demand` and
:mod:`griffin.features.services`; the loader in :mod:`griffin.features.project`; the online
stores in :mod:`griffin.features.online`.

Names are imported on first use (PEP 562), so ``import griffin.features.online`` does not pay
for pandas or the definition machinery, and the definition modules do not pay for the stores.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checks import allowed, freshness, in_range, max_null_fraction, not_null, unique
    from .common import Feature, FeatureType
    from .definitions import Entity, FeatureView
    from .on_demand import OnDemandFeatureView, on_demand_feature_view
    from .project import Definitions, load_definitions
    from .services import FeatureService
    from .sources import ParquetSource, PushSource, RequestSource, SqlSource
    from .training import TrainingSet

_WHERE = {
    "allowed": "checks",
    "freshness": "checks",
    "in_range": "checks",
    "max_null_fraction": "checks",
    "not_null": "checks",
    "unique": "checks",
    "Feature": "common",
    "FeatureType": "common",
    "Entity": "definitions",
    "FeatureView": "definitions",
    "OnDemandFeatureView": "on_demand",
    "on_demand_feature_view": "on_demand",
    "Definitions": "project",
    "load_definitions": "project",
    "FeatureService": "services",
    "ParquetSource": "sources",
    "PushSource": "sources",
    "RequestSource": "sources",
    "SqlSource": "sources",
    "TrainingSet": "training",
}

__all__ = [
    "Definitions",
    "Entity",
    "Feature",
    "FeatureService",
    "FeatureType",
    "FeatureView",
    "OnDemandFeatureView",
    "ParquetSource",
    "PushSource",
    "RequestSource",
    "SqlSource",
    "TrainingSet",
    "allowed",
    "freshness",
    "in_range",
    "load_definitions",
    "max_null_fraction",
    "not_null",
    "on_demand_feature_view",
    "unique",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'griffin.features' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute read
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
