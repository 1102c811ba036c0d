"""`griffin features get-online` and `griffin features serve` on the embedded store, reading
the SQLite and the real Redis online stores."""

from __future__ import annotations

import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Invoke, assert_one_line_error

from driver_features import FEATURES_PY
from griffin.config import load_settings
from griffin.features.online import encode_entity_key, open_online_store
from griffin.features.project import load_definitions
from griffin.features.selection import storage_name
from griffin.server.feature_server import FeatureServer


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def env(request: pytest.FixtureRequest, cli: Invoke) -> Iterator[dict[str, str]]:
    """Definitions applied with the CLI, records written as materialization does."""
    variables: dict[str, str] = {}
    if request.param == "redis":
        variables["GRIFFIN_ONLINE_STORE"] = (
            f"redis://127.0.0.1:6379/0?prefix=test-{uuid.uuid4().hex}:"
        )
    Path("features.py").write_text(textwrap.dedent(FEATURES_PY))
    applied = cli("features", "apply", "--yes", env=variables)
    assert applied.exit_code == 0, applied.output
    settings = load_settings(online_store=variables.get("GRIFFIN_ONLINE_STORE", ""))
    view: Any = load_definitions("features.py").get("feature_view", "driver_stats")
    now = time.time_ns() // 1000
    with open_online_store(settings.resolved_online_store) as store:
        store.write_batch(
            storage_name(view),
            [encode_entity_key([1]), encode_entity_key([2])],
            [now, now],
            [[10, 30.0], [20, 12.0]],
        )
        yield variables
        store.teardown()


def test_get_online(cli: Invoke, env: dict[str, str]) -> None:
    result = cli(
        "features",
        "get-online",
        "-f",
        "driver_stats:trips,driver_stats:distance",
        "-e",
        "driver_id=1,7",
        "--json",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "driver_id": [1, 7],
        "trips": [10, None],
        "distance": [30.0, None],
    }
    table = cli(
        "features",
        "get-online",
        "--features",
        "driver_stats:trips",
        "--entity",
        "driver_id=2",
        "--full-names",
        env=env,
    )
    assert table.exit_code == 0, table.output
    assert "driver_stats__trips" in table.stdout
    assert "20" in table.stdout
    served = cli(
        "features",
        "get-online",
        "--service",
        "eta",
        "-e",
        "driver_id=1",
        "-e",
        "driver_id=2",
        "--request",
        "hours=2",
        "--definitions",
        "features.py",
        "--json",
        env=env,
    )
    assert served.exit_code == 0, served.output
    assert json.loads(served.stdout) == {
        "driver_id": [1, 2],
        "trips": [10, 20],
        "speed": [15.0, 6.0],
    }


def test_get_online_errors(cli: Invoke, env: dict[str, str]) -> None:
    unknown = cli("features", "get-online", "-f", "driver_stats:trip", "-e", "driver_id=1", env=env)
    assert_one_line_error(unknown, "did you mean 'trips'")
    no_key = cli("features", "get-online", "-f", "driver_stats:trips", "-e", "driver=1", env=env)
    assert_one_line_error(no_key, "no join key 'driver_id'")
    bad_value = cli(
        "features", "get-online", "-f", "driver_stats:trips", "-e", "driver_id=x", env=env
    )
    assert_one_line_error(bad_value, "'x' is not a valid int64")
    neither = cli("features", "get-online", "-e", "driver_id=1", env=env)
    assert_one_line_error(neither, "--features", "--service")
    no_function = cli(
        "features", "get-online", "-s", "eta", "-e", "driver_id=1", "-r", "hours=2", env=env
    )
    assert_one_line_error(no_function, "'speed'", "definitions=")
    malformed = cli("features", "get-online", "-f", "driver_stats", "-e", "driver_id", env=env)
    assert_one_line_error(malformed, "NAME=VALUE")


def test_serve_runs_the_feature_server(cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    Path("features.py").write_text(textwrap.dedent(FEATURES_PY))
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    result = cli("features", "serve", "--definitions", "features.py")
    assert result.exit_code == 0, result.output
    assert "POST /api/v1/projects/{project}/features/online" in result.stdout
    [(app, options)] = calls
    assert isinstance(app, FeatureServer)
    assert app.readers.local is not None
    assert options["port"] == 6566
    assert options["host"] == "127.0.0.1"
    assert options["access_log"] is False
    app.platform.close()

    several = cli("features", "serve", "--workers", "2", "--port", "7000")
    assert several.exit_code == 0, several.output
    assert calls[-1][0] == "griffin.server.feature_server:app_from_env"
    assert calls[-1][1]["workers"] == 2

    exposed = cli("features", "serve", "--host", "0.0.0.0")
    assert_one_line_error(exposed, "refusing to serve on 0.0.0.0")
