"""Feature definitions of the example: drivers, their daily stats, live speed, an ETA service.

`griffin features plan` / `apply` read this file; run.py shows the whole life of the features.
"""

from datetime import timedelta

import pandas as pd

from griffin.features import (
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    ParquetSource,
    PushSource,
    RequestSource,
    freshness,
    in_range,
    not_null,
    on_demand_feature_view,
)

driver = Entity("driver", ["driver_id"], dtype="int64", description="A delivery driver.")

driver_stats = FeatureView(
    "driver_stats",
    [driver],
    [
        Feature("conv_rate", "float64", "Share of offers accepted over the last day."),
        Feature("acc_rate", "float64", "Share of accepted offers completed."),
        Feature("avg_daily_trips", "int64", "Trips per day, 7-day average.", default=0),
    ],
    ParquetSource(
        "data/driver_stats.parquet", "event_timestamp", created_timestamp_field="created"
    ),
    ttl=timedelta(days=2),
    owner="eta-team",
    tags={"team": "eta", "tier": "gold"},
    description="Hourly driver statistics from the trips warehouse.",
    checks=[not_null("conv_rate"), in_range("conv_rate", 0, 1), freshness(timedelta(days=2))],
)

driver_live = FeatureView(
    "driver_live",
    [driver],
    [Feature("speed_kmh", "float64", "Current speed reported by the driver app.")],
    PushSource("driver_live_push"),
    ttl=timedelta(hours=1),
    owner="eta-team",
    description="Pushed by the driver app every few seconds.",
)

trip = RequestSource("trip", {"distance_km": "float64"})


@on_demand_feature_view(
    sources=[driver_stats[["conv_rate", "acc_rate"]], trip],
    features=[Feature("reliability_per_km", "float64")],
    owner="eta-team",
)
def reliability(df: pd.DataFrame) -> pd.DataFrame:
    """How reliable the driver is, scaled by the trip's length."""
    out = pd.DataFrame(index=df.index)
    out["reliability_per_km"] = df["conv_rate"] * df["acc_rate"] / df["distance_km"].clip(lower=1)
    return out


eta_model = FeatureService(
    "eta_model",
    [driver_stats, reliability],
    owner="eta-team",
    description="What the ETA model reads.",
)
