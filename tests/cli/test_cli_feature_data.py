"""`griffin features training-data` and `griffin features datasets` on the embedded store."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from cli_helpers import Invoke, assert_one_line_error

FEATURES_PY = """
from datetime import timedelta

import pandas as pd

from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.services import FeatureService
from griffin.features.sources import ParquetSource, RequestSource

driver = Entity("driver", ["driver_id"], dtype="int64")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64"), Feature("distance", "float64")],
    ParquetSource("data/*.parquet", "ts"),
    ttl=timedelta(days=1),
)


@on_demand_feature_view(
    sources=[stats[["distance"]], RequestSource("trip", {"hours": "float64"})],
    features=[Feature("speed", "float64")],
)
def speed(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"speed": df["distance"] / df["hours"]})


eta = FeatureService("eta", [stats[["trips"]], speed])
"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def project(cli: Invoke) -> None:
    Path("data").mkdir()
    pd.DataFrame(
        {"driver_id": [1, 2], "trips": [3, 4], "distance": [10.0, 30.0], "ts": [T0, T0]}
    ).to_parquet("data/part.parquet")
    pd.DataFrame(
        {
            "driver_id": [1, 2, 5],
            "event_timestamp": [T0 + timedelta(hours=1)] * 3,
            "hours": [2.0, 3.0, 1.0],
            "label": [1, 0, 1],
        }
    ).to_parquet("entities.parquet")
    Path("features.py").write_text(textwrap.dedent(FEATURES_PY))
    assert cli("features", "apply", "--yes").exit_code == 0


def test_training_data_save_list_show(cli: Invoke) -> None:
    project(cli)
    made = cli(
        "features",
        "training-data",
        "entities.parquet",
        "--service",
        "eta",
        "--output",
        "out/train.parquet",
        "--save",
        "eta_train",
        "--description",
        "nightly",
    )
    assert made.exit_code == 0, made.output
    assert "3 rows" in made.stderr
    assert "saved as dataset 'eta_train' version 1" in made.stderr
    table = pq.read_table("out/train.parquet")
    assert table.column("trips").to_pylist() == [3, 4, None]
    assert table.column("speed").to_pylist() == [5.0, 10.0, None]
    assert b"griffin.dataset" in (table.schema.metadata or {})

    again = cli(
        "features",
        "training-data",
        "SELECT * FROM 'entities.parquet'",
        "-f",
        "driver_stats:trips,driver_stats:distance",
        "--save",
        "eta_train",
        "--json",
    )
    assert again.exit_code == 0, again.output
    result = json.loads(again.stdout)
    assert result["dataset"]["version"] == 2
    assert result["columns"][-2:] == ["trips", "distance"]
    assert result["output"] is None

    listed = cli("features", "datasets", "list")
    assert listed.exit_code == 0, listed.output
    assert "eta_train" in listed.stdout
    versions = json.loads(
        cli("features", "datasets", "list", "--name", "eta_train", "--json").stdout
    )
    assert [d["version"] for d in versions] == [2, 1]

    shown = cli("features", "datasets", "show", "eta_train", "--version", "1")
    assert shown.exit_code == 0, shown.output
    assert "eta v1" in shown.stdout
    assert "entities.parquet" in shown.stdout
    assert "nightly" in shown.stdout
    as_json = json.loads(cli("features", "datasets", "show", "eta_train", "--json").stdout)
    assert as_json["version"] == 2
    trips = next(c for c in as_json["columns"] if c["name"] == "trips")
    assert (trips["count"], trips["nulls"], trips["min"], trips["max"]) == (2, 1, 3, 4)


def test_errors_are_one_line(cli: Invoke) -> None:
    project(cli)
    assert "no saved datasets" in cli("features", "datasets", "list").stderr
    cli("features", "training-data", "entities.parquet", "--service", "eta", "--save", "eta")
    assert_one_line_error(
        cli("features", "datasets", "show", "etaa"), "dataset 'etaa'", "did you mean 'eta'"
    )
    assert_one_line_error(
        cli("features", "training-data", "entities.parquet", "-f", "driver_stats:trip", "-o", "x"),
        "did you mean 'trips'",
    )
    assert_one_line_error(
        cli("features", "training-data", "missing.parquet", "-f", "driver_stats:trips", "-o", "x"),
        "no parquet file",
    )
    usage = cli("features", "training-data", "entities.parquet", "--service", "eta")
    assert usage.exit_code == 2
    assert "--output, --save or both" in usage.stderr
