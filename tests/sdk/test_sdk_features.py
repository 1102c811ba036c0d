"""The feature registry through the SDK: plan and apply a features.py, list and show."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from griffin.client import Client
from griffin.errors import NotFound

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


def write(folder: Path, dtype: str) -> Path:
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
