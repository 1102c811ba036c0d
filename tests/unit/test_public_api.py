"""The public SDK surface: pinned, so a change to it is always deliberate (like httpx's test)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import griffin
import griffin.errors
from griffin.domain import tracking

EXPECTED = {
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
}


def test_exported_members() -> None:
    assert set(griffin.__all__) == EXPECTED
    assert len(griffin.__all__) == len(EXPECTED)  # no duplicates
    for name in griffin.__all__:
        assert getattr(griffin, name) is not None, name
    assert set(griffin.__all__) <= set(dir(griffin))


def test_exports_are_the_real_objects() -> None:
    assert griffin.NotFound is griffin.errors.NotFound
    assert griffin.Run is tracking.Run
    assert griffin.RunStatus.FINISHED == "FINISHED"
    from griffin.client import Client
    from griffin.client.tracking import start_run

    assert griffin.Client is Client
    assert griffin.start_run is start_run
    assert isinstance(griffin.__version__, str)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        griffin.no_such_thing  # type: ignore[attr-defined]  # noqa: B018


def test_import_griffin_stays_light() -> None:
    heavy = ["httpx", "fastapi", "sqlalchemy", "pandas", "pydantic", "anyio", "griffin.client"]
    code = f"import sys, griffin; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
