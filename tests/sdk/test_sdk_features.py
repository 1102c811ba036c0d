"""The feature registry through the SDK: plan and apply a features.py, list and show."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from griffin.client import Client
from griffin.errors import ConfigError, InvalidArgument, NotFound

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
)
"""


def write_source(**columns: object) -> None:
    """The view's parquet source, in the working directory the definitions are read from."""
    Path("data").mkdir(exist_ok=True)
    data = {"driver_id": [1, 2], "trips": [3, 4], "ts": pd.to_datetime(["2026-01-01"] * 2)}
    pd.DataFrame({**data, **columns}).to_parquet("data/part.parquet")


def write(folder: Path, dtype: str) -> Path:
    if not Path("data/part.parquet").exists():
        write_source()
    path = folder / "features.py"
    path.write_text(textwrap.dedent(FEATURES_PY.replace("{dtype}", dtype)))
    return path


def test_plan_apply_list_show(client: Client, tmp_path: Path) -> None:
    path = write(tmp_path, "int64")
    assert [i.action for i in client.plan_features(path).items] == ["create", "create"]
    assert client.apply_features(str(path)).applied
    write(tmp_path, "float64")
    planned = client.plan_features(path)
    assert [str(c) for c in planned.of("update")[0].changes] == [
        'features[trips].dtype: "int64" -> "float64"'
    ]
    client.apply_features(path)
    assert [o.name for o in client.list_features(owner="rides")] == ["driver_stats"]
    shown = client.get_feature_object("feature_view", "driver_stats")
    assert [v.version for v in shown.versions] == [1, 2]
    old = client.get_feature_object("feature_view", "driver_stats", version=1)
    assert old.spec["features"][0]["dtype"] == "int64"
    with pytest.raises(NotFound, match="did you mean 'driver_stats'"):
        client.get_feature_object("feature_view", "driver_stat")


def test_plan_checks_views_against_their_sources(client: Client, tmp_path: Path) -> None:
    write_source(trips=["a", "b"])  # declared int64, the source holds strings
    (Path("data") / "extra.parquet").unlink(missing_ok=True)
    path = write(tmp_path, "int64")
    with pytest.raises(InvalidArgument) as info:
        client.plan_features(path)
    message = info.value.message
    assert "feature view 'driver_stats': column 'trips' (feature) is declared int64" in message
    assert "VARCHAR" in message
    assert info.value.details["problems"][0]["column"] == "trips"
    # Unreachable or mismatched sources can be skipped explicitly.
    assert client.plan_features(path, check_sources=False).items[0].action == "create"


def test_plan_lists_every_missing_column(client: Client, tmp_path: Path) -> None:
    Path("data").mkdir()
    pd.DataFrame({"driver": [1]}).to_parquet("data/part.parquet")
    path = write(tmp_path, "int64")
    with pytest.raises(InvalidArgument) as info:
        client.apply_features(path)
    problems = {p["column"] for p in info.value.details["problems"]}
    assert problems == {"driver_id", "ts", "trips"}
    assert client.list_features() == []  # nothing was applied


def test_plan_reports_an_unreadable_source(client: Client, tmp_path: Path) -> None:
    path = write(tmp_path, "int64")
    Path("data/part.parquet").unlink()
    with pytest.raises(InvalidArgument, match="cannot be read"):
        client.plan_features(path)


def test_sql_source_defined_by_name(client: Client) -> None:
    Path("data").mkdir()
    pd.DataFrame({"driver_id": [1], "trips": [3], "ts": pd.to_datetime(["2026-01-01"])}).to_parquet(
        "data/trips.parquet"
    )
    query = "SELECT driver_id, trips, ts FROM 'data/trips.parquet'"
    created = client.add_sql_source("trips_sql", query, "ts")
    assert (created.kind, created.name, created.latest_version) == ("source", "trips_sql", 1)
    assert client.add_sql_source("trips_sql", query, "ts").latest_version == 1  # unchanged
    assert client.add_sql_source("trips_sql", query + " WHERE trips > 0", "ts").latest_version == 2
    assert [o.name for o in client.list_features("source")] == ["trips_sql"]
    source = client.get_source("trips_sql")
    assert source.query.endswith("WHERE trips > 0")
    # A view built on it plans against the real query's columns.
    from datetime import timedelta

    from griffin.features.definitions import Entity, Feature, FeatureView
    from griffin.features.project import Definitions

    driver = Entity("driver", ["driver_id"], dtype="int64")
    view = FeatureView("trips", [driver], [Feature("trips", "int64")], source, ttl=timedelta(1))
    assert [i.action for i in client.plan_features(Definitions([view])).items] == [
        "create",
        "create",
        "not_in_definitions",
    ]


def test_sql_source_errors(client: Client) -> None:
    with pytest.raises(InvalidArgument, match="has no column 'ts'"):
        client.add_sql_source("s", "SELECT 1 AS x", "ts")
    with pytest.raises(InvalidArgument, match="is INTEGER, not a timestamp"):
        client.add_sql_source("s", "SELECT 1 AS ts", "ts")
    with pytest.raises(InvalidArgument, match="the query failed"):
        client.add_sql_source("s", "SELECT * FROM nowhere", "ts")
    with pytest.raises(InvalidArgument, match="literal password"):
        client.add_sql_source("s", "SELECT 1", "ts", connection="postgresql://u:pw@h/db")
    client.add_sql_source("trips_sql", "SELECT now() AS ts", "ts")
    with pytest.raises(NotFound, match="did you mean 'trips_sql'"):
        client.get_source("trips_sq")
    assert [o.name for o in client.list_features("source")] == ["trips_sql"]


def test_sql_source_on_postgresql(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGUSER_FOR_TEST", "postgres")
    url = "postgresql://${PGUSER_FOR_TEST}@127.0.0.1:5432/test"
    found = client.add_sql_source("pg_rows", "SELECT now() AS ts, 1 AS x", "ts", connection=url)
    assert found.spec["connection"] == url  # the placeholder is stored, never its value
    monkeypatch.delenv("PGUSER_FOR_TEST")
    with pytest.raises(ConfigError, match="PGUSER_FOR_TEST is not set"):
        client.add_sql_source("pg_rows", "SELECT now() AS ts", "ts", connection=url)
