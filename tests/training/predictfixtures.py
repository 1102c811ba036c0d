"""A small project for the batch-prediction tests (importable: tests/training is on the path).

A ``driver_stats`` feature view over a parquet file, the ``eta`` feature service over it, and
a registered ``eta`` version trained on that service whose prediction tells which feature row
it saw: ``10 * trips + rating``.

=========  ==========  =====  ======
driver_id  ts          trips  rating
=========  ==========  =====  ======
1          2026-01-01  1      0.5
1          2026-02-01  2      0.25
2          2026-01-01  5      0.75
=========  ==========  =====  ======
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FEATURES_PY = """
from griffin.features import Entity, Feature, FeatureService, FeatureView, ParquetSource

driver = Entity("driver", ["driver_id"], dtype="int64")
stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64"), Feature("rating", "float64")],
    ParquetSource({path!r}, "ts"),
)
eta = FeatureService("eta", [stats])
"""


def at(day: str) -> datetime:
    """Midnight UTC of an ISO date."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def eta(trips: float, rating: float) -> float:
    """What the model predicts for these features."""
    return 10 * trips + rating


def make_project(client: Any, folder: Path) -> None:
    """Write the features and their data under ``folder``, apply them, register ``eta`` v1."""
    from sklearn.linear_model import LinearRegression

    folder.mkdir(parents=True, exist_ok=True)
    stats = pd.DataFrame(
        {
            "driver_id": [1, 1, 2],
            "ts": [at("2026-01-01"), at("2026-02-01"), at("2026-01-01")],
            "trips": [1, 2, 5],
            "rating": [0.5, 0.25, 0.75],
        }
    )
    stats.to_parquet(folder / "driver_stats.parquet", index=False)
    (folder / "features.py").write_text(
        FEATURES_PY.format(path=str(folder / "driver_stats.parquet"))
    )
    client.apply_features(folder / "features.py")
    grid = np.array([(t, r) for t in range(6) for r in (0.0, 0.25, 0.5, 0.75)])
    train = pd.DataFrame({"trips": grid[:, 0].astype(np.int64), "rating": grid[:, 1]})
    model = LinearRegression().fit(train, eta(train["trips"], train["rating"]))
    client.log_model(model, "eta", input_example=train.head(2), lineage={"feature_service": "eta"})
