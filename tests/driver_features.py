"""Feature definitions several test modules serve: a driver view, an on-demand view with a
request field, and a feature service over both (importable: tests/ is on the path)."""

FEATURES_PY = """
import pandas as pd

from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.services import FeatureService
from griffin.features.sources import PushSource, RequestSource

driver = Entity("driver", ["driver_id"], dtype="int64")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64"), Feature("distance", "float64")],
    PushSource("driver_events", timestamp_field="ts"),
)


@on_demand_feature_view(
    sources=[stats[["distance"]], RequestSource("req", {"hours": "float64"})],
    features=[Feature("speed", "float64")],
)
def speed(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"speed": df["distance"] / df["hours"]})


eta = FeatureService("eta", [stats[["trips"]], speed])
"""
