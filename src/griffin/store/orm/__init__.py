"""All metadata tables, one module per area; importing this registers them on ``Base``.

The four stores of DESIGN.md add their modules here (features, models, workflows, registry).
"""

from griffin.store.orm import (
    accounts,
    deployments,
    feature_data,
    features,
    jobs,
    logged_models,
    model_definitions,
    registry,
    tracking,
)
from griffin.store.orm.base import Base, UTCDateTime, utcnow

__all__ = [
    "Base",
    "UTCDateTime",
    "accounts",
    "deployments",
    "feature_data",
    "features",
    "jobs",
    "logged_models",
    "model_definitions",
    "registry",
    "tracking",
    "utcnow",
]
