"""Evaluation metrics against scikit-learn's own, and the task inference rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from griffin.errors import InvalidArgument
from griffin.registry.evaluation import (
    classification_metrics,
    evaluate,
    infer_task,
    regression_metrics,
    roc_auc,
)
from griffin.registry.flavors import load_model, save_model


def test_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500) + y * 0.3, 1)  # rounding makes many ties
    assert roc_auc(y == 1, scores) == pytest.approx(skm.roc_auc_score(y, scores))
    assert math.isnan(roc_auc(np.ones(3, bool), np.arange(3.0)))


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(2)
    y = rng.choice(["a", "b", "c"], 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    predicted = np.array(["a", "b", "c"])[proba.argmax(axis=1)]
    got = classification_metrics(y, predicted, proba, ["a", "b", "c"])
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=["a", "b", "c"]))
    assert got["auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    with pytest.raises(InvalidArgument, match="does not know: z"):
        classification_metrics(np.array(["z"]), np.array(["a"]), proba[:1], ["a", "b", "c"])


def test_regression_metrics_match_sklearn() -> None:
    y = np.array([1.0, 2.0, 4.0, 8.0])
    p = np.array([1.5, 2.0, 3.0, 9.0])
    got = regression_metrics(y, p)
    assert got["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)))
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert got["r2"] == pytest.approx(skm.r2_score(y, p))


def test_task_inference() -> None:
    assert infer_task([True, False]) == "classification"
    assert infer_task(["x", "y"]) == "classification"
    assert infer_task(np.array([0, 1, 2])) == "classification"
    assert infer_task(np.arange(100)) == "regression"
    assert infer_task([0.5, 1.5]) == "regression"


def test_evaluate_a_saved_classifier_and_regressor(tmp_path: object) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["label"] = (frame["a"] > 0).astype(int)
    frame["y"] = frame["a"] * 3 + 1
    classifier = LogisticRegression().fit(frame[["a", "b"]], frame["label"])
    regressor = LinearRegression().fit(frame[["a", "b"]], frame["y"])
    root = __import__("pathlib").Path(str(tmp_path))
    save_model(classifier, root / "c", input_example=frame[["a", "b"]].head())
    save_model(regressor, root / "r", input_example=frame[["a", "b"]].head())
    got = evaluate(load_model(root / "c"), frame[["a", "b", "label"]], "label")
    assert set(got) == {"accuracy", "auc", "log_loss"}
    assert got["auc"] > 0.95
    got = evaluate(load_model(root / "r"), frame[["a", "b", "y"]], "y")
    assert got["r2"] == pytest.approx(1.0)
    with pytest.raises(InvalidArgument, match="no target column 'nope'"):
        evaluate(load_model(root / "r"), frame, "nope")


class _Scorer:
    """A model without predict_proba whose predictions are P(class 1), like a sigmoid net."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-frame["a"].to_numpy() * 4))


def test_probability_outputs_of_a_model_without_predict_proba() -> None:
    from griffin.errors import NotSupported

    class Loaded:
        classes = None

        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return _Scorer().predict(frame)

        def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
            raise NotSupported("no probabilities")

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"a": rng.normal(size=300)})
    frame["y"] = (frame["a"] + rng.normal(0, 0.3, 300) > 0).astype(int)
    got = evaluate(Loaded(), frame, "y", "classification")
    scores = _Scorer().predict(frame)
    assert got["auc"] == pytest.approx(skm.roc_auc_score(frame["y"], scores))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(frame["y"], scores > 0.5))
    assert got["log_loss"] == pytest.approx(skm.log_loss(frame["y"], scores))
