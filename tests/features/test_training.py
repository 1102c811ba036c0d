"""Point-in-time training data through the SDK (in-process), on SQLite and PostgreSQL metadata.

The feature data are small parquet files in ``tmp_path``; the join runs in the client's
process, in DuckDB, exactly as a user's script would run it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from griffin.client import Client
from griffin.config import Settings
from griffin.errors import InvalidArgument, NotFound, NotSupported
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.project import Definitions
from griffin.features.services import FeatureService
from griffin.features.sources import ParquetSource, RequestSource

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def make_definitions(data: Path) -> Definitions:
    """driver_stats (TTL 3h, created timestamps), customer_stats, an on-demand view, a service."""
    pd.DataFrame(
        {
            "driver_id": [1, 1, 1, 2],
            "trips": [1, 2, 99, 5],
            "distance": [10.0, 20.0, 99.0, 50.0],
            "ts": [h(0), h(2), h(2), h(0)],
            # The tie at h(2) goes to the row created later; driver 2's row was backfilled.
            "created": [h(0), h(2), h(1), h(10)],
        }
    ).to_parquet(data / "driver_stats.parquet")
    pd.DataFrame({"customer_id": [7, 8], "spend": [3.5, 4.5], "ts": [h(-100), h(0.5)]}).to_parquet(
        data / "customer_stats.parquet"
    )
    driver = Entity("driver", ["driver_id"], dtype="int64")
    customer = Entity("customer", ["customer_id"], dtype="int64")
    driver_stats = FeatureView(
        "driver_stats",
        [driver],
        [Feature("trips", "int64"), Feature("distance", "float64")],
        ParquetSource(str(data / "driver_stats.parquet"), "ts", "created"),
        ttl=timedelta(hours=3),
    )
    customer_stats = FeatureView(
        "customer_stats",
        [customer],
        [Feature("spend", "float64")],
        ParquetSource(str(data / "customer_stats.parquet"), "ts"),
    )

    @on_demand_feature_view(
        sources=[driver_stats[["distance"]], RequestSource("trip", {"hours": "float64"})],
        features=[Feature("speed", "float64")],
    )
    def speed(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"speed": df["distance"] / df["hours"]})

    eta = FeatureService("eta", [driver_stats[["trips"]], speed, customer_stats])
    return Definitions([driver_stats, customer_stats, speed, eta])


def entity_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1, 1, 1, 2, 3],
            "customer_id": [7, 8, 8, 7, 7],
            "event_timestamp": [h(1), h(2), h(6), h(1), h(1)],
            "hours": [2.0, 4.0, 1.0, 1.0, 1.0],
            "label": [True, False, True, False, True],
        }
    )


@pytest.fixture
def defs(tmp_path: Path) -> Definitions:
    data = tmp_path / "data"
    data.mkdir()
    return make_definitions(data)


@pytest.fixture
def client(settings: Settings, defs: Definitions) -> Iterator[Client]:
    with Client(settings=settings) as made:
        made.apply_features(defs)
        yield made


def test_feature_service_joins_as_of_each_row(client: Client, defs: Definitions) -> None:
    result = client.get_training_data(entity_rows(), "eta", definitions=defs)
    assert result.columns == [
        "driver_id",
        "customer_id",
        "event_timestamp",
        "hours",
        "label",
        "trips",
        "speed",
        "spend",
    ]
    table = result.to_arrow()
    assert table.schema.field("trips").type == pa.int64()
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert len(result.to_pandas()) == 5
    # Row 1: the tie at h(2) goes to the later created row (2, not 99). Row 2: the last row
    # is 4h old, past the 3h TTL. Row 4: no such driver. Rows are never dropped or moved.
    assert table.column("trips").to_pylist() == [1, 2, None, 5, None]
    assert table.column("speed").to_pylist() == [5.0, 5.0, None, 50.0, None]
    assert table.column("spend").to_pylist() == [3.5, 4.5, 4.5, 3.5, 3.5]
    assert table.column("label").to_pylist() == [True, False, True, False, True]
    assert table.column("driver_id").to_pylist() == [1, 1, 1, 2, 3]
    assert result.num_rows == 5
    lineage = result.lineage
    assert lineage.feature_service == "eta"
    assert lineage.feature_service_version == 1
    assert [(r.kind, r.view, r.features, r.version) for r in lineage.features] == [
        ("feature_view", "driver_stats", ("trips",), 1),
        ("feature_view", "customer_stats", ("spend",), 1),
        ("on_demand_feature_view", "speed", ("speed",), 1),
    ]
    assert lineage.entity_source == "dataframe (5 rows)"
    assert lineage.join_keys == ("driver_id", "customer_id")
    assert lineage.feature_columns == ("trips", "speed", "spend")
    assert result.event_range == (h(1), h(6))


def test_view_feature_list_and_full_names(client: Client) -> None:
    result = client.get_training_data(
        entity_rows(), ["driver_stats:distance", "customer_stats"], full_names=True
    )
    table = result.to_arrow()
    assert result.columns[-2:] == ["driver_stats__distance", "customer_stats__spend"]
    assert table.column("driver_stats__distance").to_pylist() == [10.0, 20.0, None, 50.0, None]
    assert result.lineage.feature_service is None
    assert [r.view for r in result.lineage.features] == ["driver_stats", "customer_stats"]


def test_created_before_keeps_backfilled_rows_out(client: Client) -> None:
    result = client.get_training_data(
        entity_rows(), ["driver_stats:trips"], created_before=datetime(2024, 1, 1, 5)
    )
    # Driver 2's only row was created at h(10): not visible before h(5). The naive cutoff
    # is read as UTC.
    assert result.to_arrow().column("trips").to_pylist() == [1, 2, None, None, None]
    assert result.lineage.created_before == h(5)


def test_missing_join_key_is_named(client: Client) -> None:
    rows = entity_rows().drop(columns=["customer_id"])
    with pytest.raises(InvalidArgument, match="no join key column 'customer_id'"):
        client.get_training_data(rows, ["customer_stats:spend"])


def test_unknown_names_suggest_the_closest(client: Client) -> None:
    with pytest.raises(InvalidArgument, match="unknown feature 'trip'; did you mean 'trips'"):
        client.get_training_data(entity_rows(), ["driver_stats:trip"])
    with pytest.raises(InvalidArgument, match="did you mean 'driver_stats'"):
        client.get_training_data(entity_rows(), ["driver_stat:trips"])
    with pytest.raises(InvalidArgument, match=r"unknown feature service 'etaa'.*'eta'"):
        client.get_training_data(entity_rows(), "etaa")


def test_on_demand_views_need_local_definitions(client: Client) -> None:
    # The registry keeps the function's source only; it is never run from there.
    with pytest.raises(NotSupported, match="no function to run"):
        client.get_training_data(entity_rows(), ["speed"])


def test_missing_request_field_is_named(client: Client, defs: Definitions) -> None:
    rows = entity_rows().drop(columns=["hours"])
    with pytest.raises(InvalidArgument, match="'hours'"):
        client.get_training_data(rows, ["speed"], definitions=defs)


def test_entity_rows_from_parquet_and_sql(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "entities.parquet"
    entity_rows().to_parquet(path)
    expected = client.get_training_data(entity_rows(), ["driver_stats:trips"]).to_arrow()

    from_path = client.get_training_data(path, ["driver_stats:trips"])
    assert from_path.to_arrow().column("trips").equals(expected.column("trips"))
    assert from_path.lineage.entity_source == str(path)

    query = f"  select * from read_parquet('{path}') order by event_timestamp, driver_id"
    from_sql = client.get_training_data(query, ["driver_stats:trips"])
    ordered = from_sql.to_pandas()
    assert ordered["event_timestamp"].is_monotonic_increasing
    assert from_sql.lineage.entity_source == query.strip()
    assert sorted(from_sql.to_arrow().column("trips").to_pylist(), key=str) == sorted(
        expected.column("trips").to_pylist(), key=str
    )

    with pytest.raises(NotFound, match="no parquet file"):
        client.get_training_data(tmp_path / "missing.parquet", ["driver_stats:trips"])
    with pytest.raises(InvalidArgument, match="the entity rows query failed"):
        client.get_training_data("SELECT * FROM no_such_table", ["driver_stats:trips"])


def test_naive_timestamps_are_utc(client: Client) -> None:
    rows = entity_rows()
    naive = rows.assign(event_timestamp=rows["event_timestamp"].dt.tz_localize(None))
    aware = client.get_training_data(rows, ["driver_stats:trips"]).to_arrow()
    result = client.get_training_data(naive, ["driver_stats:trips"]).to_arrow()
    assert result.equals(aware)


def test_output_columns_may_not_collide_with_entity_columns(
    client: Client, defs: Definitions
) -> None:
    with pytest.raises(InvalidArgument, match=r"'trips'.*collides"):
        client.get_training_data(entity_rows().assign(trips=1), ["driver_stats:trips"])
    with pytest.raises(InvalidArgument, match="'speed' of on-demand feature view 'speed'"):
        client.get_training_data(entity_rows().assign(speed=1.0), ["speed"], definitions=defs)
