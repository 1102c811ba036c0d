"""On-demand feature views and feature services: validation, specs, the decorator form."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from griffin.errors import InvalidArgument, NotSupported
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import OnDemandFeatureView, input_types, on_demand_feature_view
from griffin.features.services import FeatureService
from griffin.features.sources import ParquetSource, RequestSource

driver = Entity("driver", ["driver_id"])
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64"), Feature("distance", "float64"), Feature("rating", "float64")],
    ParquetSource("stats.parquet", "ts"),
    ttl=timedelta(days=1),
)
other = FeatureView(
    "driver_other",
    [driver],
    [Feature("rating", "float64"), Feature("age", "int32")],
    ParquetSource("other.parquet", "ts"),
)
request = RequestSource("request", {"hours": "float64"})


def speed(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"speed": df["distance"] / df["hours"]})


@on_demand_feature_view(
    sources=[stats[["distance"]], request], features=[Feature("pace", "float64")]
)
def pace(df: pd.DataFrame) -> pd.DataFrame:
    """Hours per unit of distance."""
    return pd.DataFrame({"pace": df["hours"] / df["distance"], "extra": 1})


odfv = OnDemandFeatureView("speed", [stats, request], [Feature("speed", "float64")], speed)


def table(*objects: Any) -> Any:
    found = {(o.kind, o.name): o for o in objects}
    return lambda kind, name: found[(kind, name)]


def test_decorator_form_and_running() -> None:
    assert isinstance(pace, OnDemandFeatureView)
    assert pace.name == "pace"
    assert pace.description == "Hours per unit of distance."
    assert pace.udf_source.startswith("def pace(df: pd.DataFrame)")  # decorators stripped
    assert "@on_demand_feature_view" not in pace.udf_source
    out = pace(pd.DataFrame({"distance": [2.0, 4.0], "hours": [1.0, 1.0]}))
    assert list(out.columns) == ["pace"]
    assert out["pace"].tolist() == [0.5, 0.25]
    assert input_types(pace) == {"distance": "float64", "hours": "float64"}


def test_udf_output_is_checked() -> None:
    bad = OnDemandFeatureView("bad", [request], [Feature("x", "int64")], lambda df: df)
    with pytest.raises(InvalidArgument, match=r"bad': <lambda>\(\) returned no column 'x'"):
        bad(pd.DataFrame({"hours": [1.0]}))


def test_odfv_round_trip_has_no_function() -> None:
    spec = odfv.spec()
    assert spec["sources"][0] == {
        "features": ["trips", "distance", "rating"],
        "view": "driver_stats",
    }
    assert spec["udf"]["name"] == "speed"
    assert "def speed" in spec["udf"]["source"]
    again = OnDemandFeatureView.from_spec(spec, table(stats))
    assert again.udf is None
    assert again.spec() == spec
    assert again.fingerprint() == odfv.fingerprint()
    with pytest.raises(NotSupported, match="import the project's definitions to run it"):
        again(pd.DataFrame({"distance": [1.0], "hours": [1.0]}))
    tampered = {**spec, "udf": {**spec["udf"], "source": "def speed(df): return df\n"}}
    with pytest.raises(InvalidArgument, match="does not match its sha256"):
        OnDemandFeatureView.from_spec(tampered, table(stats))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("o", [], [Feature("x", "int64")], speed), "sources is empty"),
        (("o", [request], [], speed), "features is empty"),
        (("o", [request], [Feature("x", "int64")], None), "udf must be a function"),
        (("o", [stats, other], [Feature("x", "int64")], speed), "both give 'rating'"),
        (("o", [request], [Feature("hours", "int64")], speed), "'hours' is also an input"),
        (("o", [request], [Feature("x", "int64")] * 2, speed), "'x' twice"),
        (("o", [driver], [Feature("x", "int64")], speed), "sources must hold"),
    ],
)
def test_odfv_validation(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        OnDemandFeatureView(*args)


def test_service_resolution_and_names() -> None:
    service = FeatureService("eta", [stats[["trips", "rating"]], other[["age"]], odfv])
    assert service.resolve() == [
        ("driver_stats", ("trips", "rating")),
        ("driver_other", ("age",)),
        ("speed", ("speed",)),
    ]
    assert service.output_columns == ("trips", "rating", "age", "speed")
    full = FeatureService("eta_full", [stats, other], full_names=True)
    assert "driver_other__rating" in full.output_columns


def test_service_collisions_name_both_sources() -> None:
    with pytest.raises(InvalidArgument) as info:
        FeatureService("eta", [stats, other])
    message = str(info.value)
    assert "driver_stats.rating and driver_other.rating" in message
    assert "full_names=True" in message
    with pytest.raises(InvalidArgument, match="uses view 'driver_stats' twice"):
        FeatureService("eta", [stats[["trips"]], stats[["rating"]]])
    with pytest.raises(InvalidArgument, match="features is empty"):
        FeatureService("eta", [])
    with pytest.raises(InvalidArgument, match="full_names must be True or False"):
        FeatureService("eta", [stats], full_names="yes")  # type: ignore[arg-type]


def test_service_round_trip_pins_features() -> None:
    service = FeatureService("eta", [stats, other[["age"]], pace], tags={"team": "eta"})
    spec = service.spec()
    assert spec["features"][0] == {
        "features": ["trips", "distance", "rating"],
        "kind": "feature_view",
        "view": "driver_stats",
    }
    again = FeatureService.from_spec(spec, table(stats, other, pace))
    assert again.spec() == spec
    assert again.fingerprint() == service.fingerprint()
    with pytest.raises(KeyError):
        FeatureService.from_spec(spec, table(stats))


def test_fingerprint_is_the_same_in_another_process() -> None:
    # Run the module by path so it does not depend on tests being a package.
    code = (
        "import importlib.util, sys;"
        f"s = importlib.util.spec_from_file_location('m', {__file__!r});"
        "m = importlib.util.module_from_spec(s); sys.modules['m'] = m; s.loader.exec_module(m);"
        "print(m.odfv.fingerprint(), m.stats.fingerprint())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [odfv.fingerprint(), stats.fingerprint()]
