"""The serving benchmark's data and model, identical on every side (numpy and scikit-learn).

Griffin, the in-process floor and the peers (each in its own venv) build the same feature
table from the same seed and fit the same pipeline on it, so every server predicts the same
numbers for the same entity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FEATURES = [f"f{i}" for i in range(10)]
ENTITIES = 10_000
SEED = 7


def table(entities: int = ENTITIES, seed: int = SEED) -> tuple[Any, Any]:
    """Entity ids ``0..entities-1`` and their 10 float64 features (an ``entities x 10``
    array)."""
    rng = np.random.default_rng(seed)
    return np.arange(entities, dtype=np.int64), rng.normal(size=(entities, len(FEATURES)))


def fit(x: Any, *, frame: bool) -> Any:
    """A scaler and a logistic regression fitted on ``x`` (as a DataFrame of ``FEATURES``
    when ``frame``, as Griffin's signature wants; else the plain array)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    weights = np.linspace(-1.0, 1.0, len(FEATURES))
    y = (x @ weights > 0).astype(np.int64)
    data: Any = x
    if frame:
        import pandas as pd

        data = pd.DataFrame(x, columns=FEATURES)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(data, y)
