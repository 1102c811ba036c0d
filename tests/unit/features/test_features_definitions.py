"""Entities, features, sources, feature views and projections: validation and specs."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest

from griffin.errors import InvalidArgument
from griffin.features.checks import in_range, not_null, unique
from griffin.features.common import FeatureType
from griffin.features.definitions import Entity, Feature, FeatureView, FeatureViewProjection
from griffin.features.sources import (
    ParquetSource,
    PushSource,
    RequestSource,
    SqlSource,
    source_from_spec,
)

driver = Entity("driver", ["driver_id"], dtype="int64", owner="eta", tags={"b": "2", "a": "1"})
trips_source = ParquetSource("data/trips/*.parquet", "event_ts", "created_ts")


def make_view(**changes: object) -> FeatureView:
    args: dict[str, object] = {
        "name": "driver_stats",
        "entities": [driver],
        "features": [Feature("trips", "int64"), Feature("rating", FeatureType.FLOAT64)],
        "source": trips_source,
        "ttl": timedelta(days=1),
        "checks": [not_null("trips"), in_range("rating", min=0, max=5)],
    }
    args.update(changes)
    return FeatureView(**args)  # type: ignore[arg-type]


def resolver(*objects: object):  # type: ignore[no-untyped-def]
    table = {(o.kind, o.name): o for o in objects}  # type: ignore[attr-defined]
    return lambda kind, name: table[(kind, name)]


def test_feature_types_map_to_arrow() -> None:
    assert FeatureType.INT64.arrow_type() == pa.int64()
    assert FeatureType.TIMESTAMP.arrow_type() == pa.timestamp("us", tz="UTC")
    assert FeatureType.BYTES.arrow_type() == pa.binary()
    assert FeatureType.parse("FLOAT32", where="x") is FeatureType.FLOAT32


def test_unknown_type_suggests_close_names() -> None:
    with pytest.raises(InvalidArgument, match=r"unknown type 'float6'; did you mean 'float64'"):
        Feature("f", "float6")


def test_entity_defaults_and_dict_dtypes() -> None:
    assert Entity("store").join_keys == ("store",)
    assert Entity("store").dtypes == {"store": FeatureType.STRING}
    multi = Entity("pair", dtype={"a": "int64", "b": "string"})
    assert multi.join_keys == ("a", "b")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "1bad"}, "entity '1bad': name '1bad' is not a valid name"),
        ({"name": "a-b"}, "is not a valid name"),
        ({"name": "x" * 129}, "1 to 128"),
        ({"name": "d", "join_keys": []}, "entity 'd': join_keys is empty"),
        ({"name": "d", "join_keys": "d"}, "join_keys must be a list"),
        ({"name": "d", "join_keys": ["k", "k"]}, "lists a key twice"),
        ({"name": "d", "join_keys": ["k"], "dtype": {"j": "int64"}}, "dtype must give a type"),
        ({"name": "d", "tags": {"k": 1}}, "tags must be a dict of strings"),
        ({"name": "d", "owner": 3}, "owner must be a string"),
    ],
)
def test_entity_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Entity(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("f", "bool", "", 1), "default 1 does not fit dtype bool"),
        (("f", "int32", "", 2**31), "does not fit dtype int32"),
        (("f", "float64", "", float("nan")), "does not fit"),
        (("f", "bytes", "", "x"), "does not fit dtype bytes"),
        (("select", "int64", 5), "description must be a string"),
    ],
)
def test_feature_validation(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Feature(*args)  # type: ignore[arg-type]


def test_sources_validate_and_mask_passwords() -> None:
    with pytest.raises(InvalidArgument, match="parquet source '': path must be a non-empty"):
        ParquetSource("", "ts")
    with pytest.raises(InvalidArgument, match="created_timestamp_field is the same column"):
        ParquetSource("p", "ts", "ts")
    with pytest.raises(InvalidArgument, match="timestamp_field 'event ts' is not a valid name"):
        ParquetSource("p", "event ts")
    with pytest.raises(InvalidArgument, match="sql source 'q': connection must be None"):
        SqlSource("select 1", "ts", name="q", connection="nonsense")
    with pytest.raises(InvalidArgument, match="push source 'p': batch_source must be"):
        PushSource("p", batch_source="x")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="request source 'r': schema must be"):
        RequestSource("r", {})
    # A literal password would be stored in the registry: refused, with the fix in the message.
    with pytest.raises(InvalidArgument, match=r"literal password.*\$\{PGPASSWORD\}") as caught:
        SqlSource("select * from t", "ts", name="q", connection="postgresql://u:s3cret@h/db")
    assert "s3cret" not in caught.value.message
    placeholder = "postgresql://u:${PGPASSWORD}@h/db"
    sql = SqlSource("select * from t", "ts", name="q", connection=placeholder)
    assert sql.connection == placeholder
    assert "PGPASSWORD" not in repr(sql)
    assert "u:***@h" in repr(sql)


@pytest.mark.parametrize(
    "source",
    [
        trips_source,
        ParquetSource("s3://bucket/x", "ts", name="named"),
        SqlSource(
            "select 1", "ts", name="q", connection="duckdb:///x", created_timestamp_field="c"
        ),
        PushSource("p", batch_source=trips_source),
        PushSource("p2"),
        RequestSource("req", {"speed": "float64", "flag": FeatureType.BOOL}),
    ],
)
def test_source_round_trip(source: object) -> None:
    spec = source.spec()  # type: ignore[attr-defined]
    again = source_from_spec(spec)
    assert again == source
    assert again.spec() == spec
    assert again.fingerprint() == source.fingerprint()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entities": []}, "feature view 'driver_stats': entities is empty"),
        ({"features": []}, "features is empty"),
        ({"features": [Feature("a", "int64"), Feature("a", "int64")]}, "'a' twice"),
        ({"features": [Feature("driver_id", "int64")]}, "is the join key of entity 'driver'"),
        ({"features": [Feature("event_ts", "int64")]}, "timestamp column of the source"),
        ({"ttl": timedelta(0)}, "ttl must be positive"),
        ({"ttl": 3600}, "ttl must be a datetime.timedelta"),
        ({"online": "yes"}, "online must be True or False"),
        ({"source": RequestSource("r", {"x": "int64"})}, "request sources feed on-demand"),
        ({"checks": [not_null("trip")]}, "unknown column 'trip'; did you mean 'trips'"),
        ({"checks": ["not_null"]}, "checks must hold Check objects"),
        ({"entities": [driver, Entity("d2", ["driver_id"])]}, "share the join key"),
        ({"name": "bad name"}, "'bad name' is not a valid name"),
    ],
)
def test_feature_view_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        make_view(**changes)


def test_range_check_needs_a_numeric_feature() -> None:
    with pytest.raises(InvalidArgument, match="in_range needs a numeric column; 'name' is string"):
        make_view(features=[Feature("name", "string")], checks=[in_range("name", max=1)])


def test_checks_may_use_join_keys_and_timestamps() -> None:
    view = make_view(checks=[unique(["driver_id", "event_ts"]), not_null("created_ts")])
    assert view.join_keys == ("driver_id",)
    assert view.feature_names == ("trips", "rating")


def test_projection_and_close_matches() -> None:
    view = make_view()
    projection = view[["rating", "trips"]]
    assert projection == FeatureViewProjection(view, ("rating", "trips"))
    assert projection.feature_names == ("rating", "trips")
    assert view["trips"].feature_names == ("trips",)
    assert projection.spec() == {"features": ["rating", "trips"], "view": "driver_stats"}
    with pytest.raises(InvalidArgument) as info:
        view[["trip"]]
    assert "feature view 'driver_stats': unknown feature 'trip'; did you mean 'trips'" in str(
        info.value
    )
    assert info.value.details["close_matches"] == ["trips"]
    with pytest.raises(InvalidArgument, match="unknown feature 'zzzzzz'; known: 'rating', 'trips'"):
        view[["zzzzzz"]]
    with pytest.raises(InvalidArgument, match="selects a feature twice"):
        view[["trips", "trips"]]
    with pytest.raises(InvalidArgument, match="select at least one"):
        view[[]]


def test_entity_and_view_round_trip() -> None:
    spec = driver.spec()
    assert Entity.from_spec(spec) == driver
    assert list(spec) == sorted(spec)
    view = make_view()
    view_spec = view.spec()
    assert view_spec["entities"] == ["driver"]
    assert view_spec["ttl_seconds"] == 86400.0
    again = FeatureView.from_spec(view_spec, resolver(driver))
    assert again == view
    assert again.spec() == view_spec
    assert again.fingerprint() == view.fingerprint()


def test_from_spec_needs_a_resolver_and_the_right_kind() -> None:
    with pytest.raises(InvalidArgument, match="resolve is needed to look up entity 'driver'"):
        FeatureView.from_spec(make_view().spec())
    with pytest.raises(InvalidArgument, match="expected a entity spec, got a feature_view"):
        Entity.from_spec(make_view().spec())
    with pytest.raises(InvalidArgument, match="has no 'join_keys' field"):
        Entity.from_spec({"kind": "entity", "name": "x"})


def test_fingerprint_is_canonical() -> None:
    view = make_view()
    assert (
        make_view(tags={"a": "1", "b": "2"}).fingerprint()
        == make_view(tags={"b": "2", "a": "1"}).fingerprint()
    )
    assert make_view(ttl=timedelta(hours=2)).fingerprint() != view.fingerprint()
    assert make_view(description="x").fingerprint() != view.fingerprint()
    assert (
        Entity("e", tags={"x": "1", "y": "2"}).fingerprint()
        == Entity("e", tags={"y": "2", "x": "1"}).fingerprint()
    )
    # A fixed value: the same bytes in every process (no id(), hash() or dict order involved).
    assert Entity("e").fingerprint() == Entity.from_spec(Entity("e").spec()).fingerprint()
    assert len(view.fingerprint()) == 64


def test_objects_are_hashable_and_frozen() -> None:
    view = make_view()
    assert {view, driver}
    with pytest.raises(AttributeError):
        view.name = "x"  # type: ignore[misc]
