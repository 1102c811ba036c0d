"""`griffin features`: plan, apply, list and show on the embedded store."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
from cli_helpers import Invoke, assert_one_line_error

FEATURES_PY = """
from datetime import timedelta

from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.sources import ParquetSource

driver = Entity("driver", ["driver_id"], dtype="int64")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "{dtype}")],
    ParquetSource("data/*.parquet", "ts"),
    ttl=timedelta(days=1),
    owner="rides",
    tags={"team": "rides"},
)
"""


def write(dtype: str) -> None:
    Path("data").mkdir(exist_ok=True)
    pd.DataFrame(
        {"driver_id": [1, 2], "trips": [3, 4], "ts": pd.to_datetime(["2026-01-01"] * 2)}
    ).to_parquet("data/part.parquet")
    Path("features.py").write_text(textwrap.dedent(FEATURES_PY.replace("{dtype}", dtype)))


def test_plan_apply_list_show(cli: Invoke) -> None:
    write("int64")
    planned = cli("features", "plan")
    assert planned.exit_code == 0, planned.output
    assert "driver_stats" in planned.stdout
    assert "2 to create" in planned.stderr
    declined = cli("features", "apply", input="n\n")
    assert declined.exit_code == 1
    assert "nothing in the feature registry" in cli("features", "list").stderr

    applied = cli("features", "apply", "--yes", "--json")
    assert applied.exit_code == 0, applied.output
    result = json.loads(applied.stdout)
    assert result["applied"]
    assert [i["new_version"] for i in result["items"]] == [1, 1]
    assert "nothing to apply" in cli("features", "apply", ".").stdout

    write("float64")
    diff = cli("features", "plan", "features.py")
    assert '"int64" -> "float64"' in diff.stdout
    assert cli("features", "apply", input="y\n").exit_code == 0

    listed = json.loads(cli("features", "list", "--tag", "team", "--json").stdout)
    assert [(o["name"], o["version"]) for o in listed] == [("driver_stats", 2)]
    for options in (
        ["--kind", "entity"],
        ["--owner", "rides"],
        ["--entity", "driver"],
        ["-q", "x"],
    ):
        assert cli("features", "list", *options).exit_code == 0
    shown = cli("features", "show", "feature_view", "driver_stats", "--version", "1")
    assert shown.exit_code == 0, shown.output
    assert "1 of 2" in shown.stdout
    assert "int64" in shown.stdout
    as_json = json.loads(cli("features", "show", "entity", "driver", "--json").stdout)
    assert as_json["versions"][0]["change"] == "created"


def test_unknown_object_and_bad_file(cli: Invoke) -> None:
    write("int64")
    cli("features", "apply", "--yes")
    missing = cli("features", "show", "feature_view", "driver_stat")
    assert_one_line_error(missing, "did you mean 'driver_stats'")
    Path("features.py").write_text("import nope\n")
    assert_one_line_error(cli("features", "plan"), "features.py:1", "nope")


def test_add_source_then_list_and_show(cli: Invoke) -> None:
    added = cli(
        "features",
        "add-source",
        "now_rows",
        "--query",
        "SELECT now() AS ts",
        "--timestamp-field",
        "ts",
    )
    assert added.exit_code == 0, added.output
    assert "version 1" in added.output
    listed = json.loads(cli("features", "list", "--kind", "source", "--json").output)
    assert [o["name"] for o in listed] == ["now_rows"]
    shown = cli("features", "show", "source", "now_rows")
    assert "SELECT now() AS ts" in shown.output
    bad = cli("features", "add-source", "x", "--query", "SELECT 1 AS y", "--timestamp-field", "ts")
    assert_one_line_error(bad, "has no column 'ts'")
