"""The quickstart's bundled sample project: shoppers' daily activity, churn labels, features.py.

Everything is generated from a seed, so every run has the same values; only the timestamps
move, because they are relative to *now*: the newest snapshot is ten minutes old, so the
feature view's two-day TTL finds a fresh value for every shopper in training data, in the
online store and in the inference server alike.

Each label is drawn from the features of the snapshot in effect at its row's time, so only a
point-in-time-correct join lets the model learn it: a join that read the newest snapshot
instead would leak the future and learn noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DAYS",
    "ENTITY",
    "FEATURE_SERVICE",
    "FEATURE_VIEW",
    "FIRST_SHOPPER",
    "JOIN_KEY",
    "ON_DEMAND_VIEW",
    "SHOPPERS",
    "TARGET",
    "SampleProject",
    "write_sample_project",
]

SHOPPERS = 400
DAYS = 28
FIRST_SHOPPER = 1001
# Labelled rows per shopper: training rows fall 8 to 27 days ago, holdout rows in the last
# week, so the evaluation is on later data than the training, as it is in production.
TRAINING_ROWS_PER_SHOPPER = 3
TRAINING_DAYS = (8, DAYS - 1)
HOLDOUT_DAYS = (1, 7)

ENTITY = "shopper"
JOIN_KEY = "shopper_id"
FEATURE_VIEW = "shopper_activity"
ON_DEMAND_VIEW = "avg_order_value"
FEATURE_SERVICE = "shopper_churn"
TARGET = "churned"

# Written as the project's features.py; __SOURCE__ becomes the absolute path of the parquet
# file, so `griffin features materialize` and training data work from any folder.
FEATURES_PY = '''\
"""Features of the quickstart's shopper-churn model (rewritten by every `griffin quickstart`).

A shopper entity, a feature view over daily activity snapshots (data/, regenerated on every
run with timestamps relative to now), an on-demand view computed from it at request time, and
the feature service the model reads: the same definitions build the training set and the
values the inference server reads online.
"""

from datetime import timedelta

import pandas as pd

from griffin.features import (
    Entity,
    Feature,
    FeatureService,
    FeatureView,
    ParquetSource,
    on_demand_feature_view,
)

shopper = Entity("__ENTITY__", ["__KEY__"], dtype="int64", description="A shopper.")

shopper_activity = FeatureView(
    "__VIEW__",
    [shopper],
    [
        Feature("orders_30d", "int64", "Orders in the last 30 days."),
        Feature("spend_30d", "float64", "Money spent in the last 30 days."),
        Feature("days_since_order", "float64", "Days since the last order."),
        Feature("support_tickets_90d", "int64", "Support tickets in the last 90 days."),
        Feature("tenure_days", "float64", "Days since the shopper signed up."),
    ],
    ParquetSource(__SOURCE__, "event_timestamp"),
    ttl=timedelta(days=2),
    tags={"source": "griffin quickstart"},
    description="Daily snapshot of each shopper's activity.",
)


@on_demand_feature_view(
    sources=[shopper_activity[["orders_30d", "spend_30d"]]],
    features=[Feature("avg_order_value", "float64", "Spend per order over 30 days.")],
)
def __ON_DEMAND__(df: pd.DataFrame) -> pd.DataFrame:
    """Spend per order over 30 days; 0 for a shopper without orders."""
    orders = df["orders_30d"].where(df["orders_30d"] > 0)
    return pd.DataFrame({"avg_order_value": (df["spend_30d"] / orders).fillna(0.0)})


shopper_churn = FeatureService(
    "__SERVICE__",
    [shopper_activity, __ON_DEMAND__],
    description="What the shopper-churn model reads, in training and online.",
)
'''


@dataclass(frozen=True)
class SampleProject:
    """The files written, and the labelled entity rows to build training data from."""

    folder: Path
    features_py: Path
    source: Path
    training_rows: pd.DataFrame
    holdout_rows: pd.DataFrame
    snapshot_rows: int
    examples: tuple[int, ...]


def write_sample_project(folder: Path, now: datetime, seed: int) -> SampleProject:
    """Write ``features.py`` and ``data/shopper_activity.parquet`` under ``folder``.

    Rewrites both on every call (same values, new timestamps); nothing else in ``folder`` is
    touched. ``now`` must be timezone-aware.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ids = np.arange(FIRST_SHOPPER, FIRST_SHOPPER + SHOPPERS)
    # Row k of each (DAYS, SHOPPERS) array is the snapshot k days ago. Engagement is a
    # per-shopper level plus a random walk, so a shopper's features drift over the weeks.
    walk = np.cumsum(rng.normal(0.0, 0.25, (DAYS, SHOPPERS)), axis=0)[::-1]
    engagement = rng.normal(0.0, 1.0, SHOPPERS)[None, :] + walk
    orders = rng.poisson(np.exp(1.2 + 0.5 * engagement))
    spend = np.round(orders * rng.gamma(4.0, 9.0, orders.shape), 2)
    days_since = np.round(np.minimum(rng.exponential(30.0 / (orders + 1)), 60.0), 1)
    tickets = rng.poisson(0.3 + 0.7 * np.maximum(-engagement, 0.0))
    tenure = np.round(rng.uniform(30.0, 1500.0, SHOPPERS)[None, :] - np.arange(DAYS)[:, None], 1)
    logit = (
        -1.0
        + 0.09 * days_since
        - 0.35 * orders
        + 0.7 * tickets
        - 0.0008 * tenure
        + rng.normal(0.0, 0.6, orders.shape)
    )
    churned = (rng.uniform(size=orders.shape) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    # Shoppers to ask the deployed model about: by their churn odds today, the two most at
    # risk and the three least, so the answers are not all the same.
    by_risk = np.argsort(-logit[0], kind="stable")
    examples = tuple(int(ids[i]) for i in (*by_risk[:2], *by_risk[-3:]))

    stamps = pd.DatetimeIndex([now - timedelta(days=k, minutes=10) for k in range(DAYS)])
    activity = pd.DataFrame(
        {
            JOIN_KEY: np.tile(ids, DAYS),
            "event_timestamp": np.repeat(stamps, SHOPPERS),
            "orders_30d": orders.ravel(),
            "spend_30d": spend.ravel(),
            "days_since_order": days_since.ravel(),
            "support_tickets_90d": tickets.ravel(),
            "tenure_days": tenure.ravel(),
        }
    )

    def labelled(days: tuple[int, int], per_shopper: int) -> pd.DataFrame:
        # A row 1 to 20 hours after snapshot k sees snapshot k (the next one is 24 h later).
        parts = []
        for _ in range(per_shopper):
            k = rng.integers(days[0], days[1] + 1, SHOPPERS)
            hours = pd.to_timedelta(rng.uniform(1.0, 20.0, SHOPPERS), unit="h")
            parts.append(
                pd.DataFrame(
                    {
                        JOIN_KEY: ids,
                        "event_timestamp": stamps[k] + hours,
                        TARGET: churned[k, np.arange(SHOPPERS)],
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)

    training_rows = labelled(TRAINING_DAYS, TRAINING_ROWS_PER_SHOPPER)
    holdout_rows = labelled(HOLDOUT_DAYS, 1)

    source = folder / "data" / f"{FEATURE_VIEW}.parquet"
    source.parent.mkdir(parents=True, exist_ok=True)
    activity.to_parquet(source, index=False)
    features_py = folder / "features.py"
    features_py.write_text(_features_py(source))
    return SampleProject(
        folder=folder,
        features_py=features_py,
        source=source,
        training_rows=training_rows,
        holdout_rows=holdout_rows,
        snapshot_rows=len(activity),
        examples=examples,
    )


def _features_py(source: Path) -> str:
    text = FEATURES_PY
    for placeholder, value in (
        ("__SOURCE__", repr(str(source))),
        ("__ENTITY__", ENTITY),
        ("__KEY__", JOIN_KEY),
        ("__VIEW__", FEATURE_VIEW),
        ("__ON_DEMAND__", ON_DEMAND_VIEW),
        ("__SERVICE__", FEATURE_SERVICE),
    ):
        text = text.replace(placeholder, value)
    return text
