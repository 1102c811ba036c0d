"""Signatures: inference from frames and Arrow schemas, JSON round trip, and input checking."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from griffin.errors import InvalidArgument
from griffin.features.common import FeatureType
from griffin.registry.signature import Column, Signature, from_features, infer_signature


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "driver_id": [1, 2],
            "trips": np.array([3, 4], dtype=np.int32),
            "rating": [4.5, 3.0],
            "ok": [True, False],
            "city": ["a", "b"],
            "blob": [b"x", b"y"],
            "at": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
            "label": [0.0, 1.0],
        }
    )


def test_infer_from_frame_keeps_order_types_and_excludes() -> None:
    sig = infer_signature(_frame(), exclude=["driver_id", "label"])
    assert sig.inputs == (
        Column("trips", FeatureType.INT32),
        Column("rating", FeatureType.FLOAT64),
        Column("ok", FeatureType.BOOL),
        Column("city", FeatureType.STRING),
        Column("blob", FeatureType.BYTES),
        Column("at", FeatureType.TIMESTAMP),
    )
    assert sig.outputs is None


def test_infer_from_arrow_schema_and_dict() -> None:
    schema = pa.schema([("a", pa.float32()), ("b", pa.int64()), ("y", pa.float64())])
    assert infer_signature(schema, exclude=["y"]).inputs == (
        Column("a", FeatureType.FLOAT32),
        Column("b", FeatureType.INT64),
    )
    assert infer_signature({"x": [1.0, 2.0]}).input_names == ["x"]


def test_infer_errors() -> None:
    with pytest.raises(InvalidArgument, match="unknown column"):
        infer_signature(_frame(), exclude=["nope"])
    with pytest.raises(InvalidArgument, match="no input columns"):
        infer_signature(pd.DataFrame({"y": [1.0]}), exclude=["y"])
    with pytest.raises(InvalidArgument, match="'l'"):
        infer_signature(pa.schema([("l", pa.list_(pa.int64()))]))
    with pytest.raises(InvalidArgument, match="expected a pandas DataFrame"):
        infer_signature([1, 2, 3])


def test_from_features_and_json_round_trip() -> None:
    sig = from_features({"b": FeatureType.FLOAT64, "a": "int64"}, outputs={"p": "float32"})
    assert sig.input_names == ["b", "a"]
    assert Signature.from_json(sig.to_json()) == sig
    assert sig.to_json() == {
        "inputs": [{"name": "b", "type": "float64"}, {"name": "a", "type": "int64"}],
        "outputs": [{"name": "p", "type": "float32"}],
    }


def test_bad_signatures() -> None:
    with pytest.raises(InvalidArgument, match="twice"):
        Signature([("a", "float64"), ("a", "int64")])
    with pytest.raises(InvalidArgument, match="at least one"):
        Signature([])
    with pytest.raises(InvalidArgument, match="type"):
        Signature([("a", "float128")])
    with pytest.raises(InvalidArgument, match="inputs"):
        Signature.from_json({"outputs": None})


def test_check_reorders_drops_extras_and_casts() -> None:
    sig = from_features({"b": "float32", "a": "int64", "flag": "bool"})
    frame = pd.DataFrame({"a": [1.0, 2.0], "extra": ["x", "y"], "flag": [1, 0], "b": [1, 2]})
    out = sig.check(frame)
    assert list(out.columns) == ["b", "a", "flag"]
    assert out["b"].dtype == np.float32
    assert out["a"].dtype == np.int64
    assert out["flag"].tolist() == [True, False]


def test_check_missing_columns_are_named() -> None:
    sig = from_features({"a": "float64", "b": "float64", "c": "float64"})
    with pytest.raises(InvalidArgument, match="'a', 'c'") as info:
        sig.check(pd.DataFrame({"b": [1.0]}))
    assert info.value.details["missing"] == ["a", "c"]


def test_check_rejects_unsafe_casts() -> None:
    sig = from_features({"n": "int64"})
    with pytest.raises(InvalidArgument, match="non-integer"):
        sig.check(pd.DataFrame({"n": [1.5]}))
    with pytest.raises(InvalidArgument, match="expected numbers"):
        sig.check(pd.DataFrame({"n": ["one"]}))
    with pytest.raises(InvalidArgument, match="range"):
        from_features({"n": "int32"}).check(pd.DataFrame({"n": [2**40]}))
    with pytest.raises(InvalidArgument, match="expected strings"):
        from_features({"s": "string"}).check(pd.DataFrame({"s": [1, 2]}))


def test_check_nulls_in_integer_columns_become_nan() -> None:
    out = from_features({"n": "int64"}).check(pd.DataFrame({"n": [1, None]}))
    assert out["n"].dtype == np.float64
    assert np.isnan(out["n"].iloc[1])


def test_check_timestamps_are_utc() -> None:
    sig = from_features({"at": "timestamp"})
    out = sig.check(pd.DataFrame({"at": [datetime(2024, 1, 1, 12), "2024-01-02T00:00:00"]}))
    assert out["at"].iloc[0] == datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_a_checked_frame_passes_through_untouched() -> None:
    signature = Signature([("n", "int64"), ("x", "float64")])
    checked = signature.check(pd.DataFrame({"x": [1.5, 2.5], "n": [1, 2], "extra": ["a", "b"]}))
    assert list(checked.columns) == ["n", "x"]
    assert signature.check(checked) is checked  # checked once: no second copy or cast
    # Not quite the signature's types (floats in the int column): checked and cast again.
    floats = pd.DataFrame({"n": [1.0, 2.0], "x": [1.5, 2.5]})
    recast = signature.check(floats)
    assert recast is not floats
    assert recast["n"].dtype == np.int64
    reordered = pd.DataFrame({"x": [1.5], "n": np.array([1], dtype=np.int64)})
    assert list(signature.check(reordered).columns) == ["n", "x"]


def test_columns_as_parsed_from_json_are_checked_like_a_frame() -> None:
    """check_columns (a server's parsed request) gives what check gives a DataFrame of the
    same values, and refuses what check refuses, with the same messages."""
    sig = from_features({"b": "float32", "a": "int64", "flag": "bool", "city": "string"})
    columns = {"a": [1, 2], "extra": ["x", "y"], "flag": [True, False], "b": [1, 2.5]}
    columns["city"] = ["x", None]
    out = sig.check_columns(columns)
    pd.testing.assert_frame_equal(out, sig.check(pd.DataFrame(columns)), check_dtype=False)
    assert [str(t) for t in out.dtypes][:3] == ["float32", "int64", "bool"]
    numbers = from_features({"x": "float64", "n": "int64"})
    same = numbers.check_columns({"n": [1.0, None], "x": [1, 2]})
    assert same["n"].dtype == np.float64  # a null in an integer column: NaN in floats
    assert np.isnan(same["n"].iloc[1])
    floats = from_features({"x": "float64", "y": "float64"}).check_columns(
        {"y": [1.0, 2.0], "x": [3, 4]}
    )
    assert list(floats.columns) == ["x", "y"]
    assert floats.to_numpy().tolist() == [[3.0, 1.0], [4.0, 2.0]]
    with pytest.raises(InvalidArgument, match="non-integer"):
        numbers.check_columns({"n": [1.5], "x": [1.0]})
    with pytest.raises(InvalidArgument, match="expected numbers, got string"):
        numbers.check_columns({"n": ["one"], "x": [1.0]})
    with pytest.raises(InvalidArgument, match="expected numbers"):
        numbers.check_columns({"n": [1], "x": [1.0, "two"]})
    with pytest.raises(InvalidArgument, match="range"):
        from_features({"n": "int32"}).check_columns({"n": [2**40]})
    with pytest.raises(InvalidArgument, match="'x'"):
        numbers.check_columns({"n": [1]})
