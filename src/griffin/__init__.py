"""Griffin: a self-hostable machine-learning platform.

This module is the public SDK surface, nothing else::

    import griffin

    with griffin.start_run("mnist", params={"lr": 0.01}):
        for step in range(100):
            griffin.log_metric("loss", train_step())

Heavy parts (httpx, pydantic-settings, the embedded server) are imported on first use, so
``import griffin`` stays fast for scripts and CLIs that only need a name or two.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from griffin._version import __version__
from griffin.errors import (
    AlreadyExists,
    BackendUnavailable,
    Conflict,
    GriffinError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.client.models import load_model
    from griffin.client.tracking import (
        ActiveRun,
        active_run,
        end_run,
        flush,
        log_artifact,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        set_tag,
        set_tags,
        start_run,
    )
    from griffin.domain.tracking import Experiment, Metric, Run, RunStatus
    from griffin.training.models import model

__all__ = [
    "ActiveRun",
    "AlreadyExists",
    "BackendUnavailable",
    "Client",
    "Conflict",
    "Experiment",
    "GriffinError",
    "InvalidArgument",
    "Metric",
    "NotFound",
    "PermissionDenied",
    "Run",
    "RunStatus",
    "Unauthenticated",
    "__version__",
    "active_run",
    "end_run",
    "flush",
    "load_model",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "model",
    "set_tag",
    "set_tags",
    "start_run",
]

_TRACKING = "griffin.client.tracking"
_LAZY = {
    "Client": "griffin.client",
    "Experiment": "griffin.domain.tracking",
    "Metric": "griffin.domain.tracking",
    "Run": "griffin.domain.tracking",
    "RunStatus": "griffin.domain.tracking",
    "load_model": "griffin.client.models",
    "model": "griffin.training.models",
    **dict.fromkeys(
        [
            "ActiveRun",
            "active_run",
            "end_run",
            "flush",
            "log_artifact",
            "log_metric",
            "log_metrics",
            "log_param",
            "log_params",
            "set_tag",
            "set_tags",
            "start_run",
        ],
        _TRACKING,
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'griffin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function (log_metric is a hot path)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
