"""Standard evaluation metrics by task type, computed with numpy alone.

Classification: ``auc`` (binary, or the macro one-vs-rest average for more classes),
``log_loss`` and ``accuracy``; ``auc`` and ``log_loss`` need class probabilities and are left
out for a model that gives none. Regression: ``rmse``, ``mae`` and ``r2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from griffin.errors import InvalidArgument, NotSupported

__all__ = [
    "TASKS",
    "Task",
    "classification_metrics",
    "evaluate",
    "infer_task",
    "regression_metrics",
    "roc_auc",
]

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
_EPS = 1e-15
_MAX_INTEGER_CLASSES = 20  # an integer target with more distinct values is a regression


def infer_task(target: Sequence[Any] | np.ndarray[Any, Any] | pd.Series) -> Task:
    """``classification`` for booleans, strings and integers with few distinct values."""
    values = pd.Series(np.asarray(target))
    if (
        pd.api.types.is_bool_dtype(values)
        or pd.api.types.is_string_dtype(values)
        or isinstance(values.dtype, pd.CategoricalDtype)
    ):
        return "classification"
    if pd.api.types.is_integer_dtype(values) and values.nunique() <= _MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def _ranks(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Ranks from 1, ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=float)
    # Boundaries of runs of equal values; each run gets the mean of its positions.
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(values)]))
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def roc_auc(positive: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic); NaN with one class only."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _ranks(np.asarray(scores, dtype=float))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_metrics(
    truth: Sequence[Any] | np.ndarray[Any, Any],
    predicted: Sequence[Any] | np.ndarray[Any, Any],
    probabilities: np.ndarray[Any, Any] | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float]:
    """``accuracy``, plus ``auc`` and ``log_loss`` when ``probabilities`` (rows x classes, in
    the order of ``classes``) are given."""
    y = np.asarray(truth)
    metrics = {"accuracy": float(np.mean(np.asarray(predicted) == y))}
    if probabilities is None:
        return metrics
    proba = np.asarray(probabilities, dtype=float)
    labels = list(classes) if classes is not None else sorted(pd.unique(y).tolist())
    if proba.ndim == 1:  # P(positive class) of a binary model
        proba = np.column_stack([1 - proba, proba])
    if proba.shape[1] != len(labels):
        raise InvalidArgument(
            f"the model gives {proba.shape[1]} class probabilities but {len(labels)} classes"
        )
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({str(v) for v in y if v not in index})
    if unknown:
        raise InvalidArgument(
            f"the target holds labels the model does not know: {', '.join(unknown[:5])}"
        )
    columns = np.array([index[v] for v in y])
    clipped = np.clip(proba, _EPS, 1 - _EPS)
    metrics["log_loss"] = float(-np.mean(np.log(clipped[np.arange(len(y)), columns])))
    if len(labels) == 2:
        metrics["auc"] = roc_auc(columns == 1, proba[:, 1])
    else:
        aucs = [roc_auc(columns == k, proba[:, k]) for k in range(len(labels))]
        finite = [a for a in aucs if not np.isnan(a)]
        metrics["auc"] = float(np.mean(finite)) if finite else float("nan")
    return metrics


def regression_metrics(
    truth: Sequence[Any] | np.ndarray[Any, Any], predicted: Sequence[Any] | np.ndarray[Any, Any]
) -> dict[str, float]:
    """``rmse``, ``mae`` and ``r2`` (NaN when the target is constant)."""
    y = np.asarray(truth, dtype=float)
    p = np.asarray(predicted, dtype=float).reshape(len(y), -1)[:, 0]
    error = p - y
    total = float(np.sum((y - y.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(1 - np.sum(error**2) / total) if total > 0 else float("nan"),
    }


def evaluate(
    model: Any, frame: pd.DataFrame, target: str, task: Task | None = None
) -> dict[str, float]:
    """Metrics of a loaded model (:class:`~griffin.registry.flavors.LoadedModel`) on ``frame``,
    whose ``target`` column holds the true values; the task is inferred when not given."""
    if target not in frame.columns:
        raise InvalidArgument(
            f"the evaluation data has no target column {target!r}; its columns: "
            f"{', '.join(map(str, frame.columns[:20]))}",
            details={"field": "target"},
        )
    truth = frame[target].to_numpy()
    if len(truth) == 0:
        raise InvalidArgument("the evaluation data has no rows")
    inputs = frame.drop(columns=[target])
    chosen = task or infer_task(truth)
    if chosen not in TASKS:
        raise InvalidArgument(f"unknown task {chosen!r}: use classification or regression")
    predicted = np.asarray(model.predict(inputs))
    if chosen == "regression":
        return regression_metrics(truth, predicted)
    try:
        probabilities = model.predict_proba(inputs)
        classes = model.classes
    except NotSupported:
        probabilities, classes = None, None
        scored = _scores_as_probabilities(truth, predicted)
        if scored is not None:  # e.g. a network whose output is P(class 1)
            probabilities, classes, predicted = scored
    return classification_metrics(truth, predicted, probabilities, classes)


def _scores_as_probabilities(
    truth: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], list[Any], np.ndarray[Any, Any]] | None:
    """Float predictions of a model without ``predict_proba`` read as probabilities: a column
    in [0, 1] for two classes, or one column per class summing to 1."""
    if not np.issubdtype(predicted.dtype, np.floating) or len(predicted) == 0:
        return None
    labels = sorted(pd.unique(truth).tolist())
    if predicted.ndim == 1 and len(labels) <= 2 and predicted.min() >= 0 and predicted.max() <= 1:
        classes = labels if len(labels) == 2 else [0, 1]
        chosen = np.asarray(classes, dtype=object)[(predicted > 0.5).astype(int)]
        return predicted, classes, chosen.astype(np.asarray(truth).dtype)
    if (
        predicted.ndim == 2
        and predicted.shape[1] == len(labels)
        and np.allclose(predicted.sum(axis=1), 1, atol=1e-4)
    ):
        chosen = np.asarray(labels, dtype=object)[predicted.argmax(axis=1)]
        return predicted, labels, chosen.astype(np.asarray(truth).dtype)
    return None
