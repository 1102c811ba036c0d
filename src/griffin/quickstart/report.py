"""What the quickstart tells: its steps as they happen (:class:`Observer`), then its result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["STEPS", "Observer", "Prediction", "QuickstartResult", "Silent", "Step"]

# Every step, in order: its key (what an Observer is told) and what it does.
STEPS: tuple[tuple[str, str], ...] = (
    ("data", "write the sample data and features.py"),
    ("apply", "apply the feature definitions"),
    ("materialize", "materialize the latest values online"),
    ("dataset", "build point-in-time training data"),
    ("train", "train and track a run"),
    ("register", "register the model with its lineage"),
    ("evaluate", "evaluate on the holdout set"),
    ("promote", "promote it to @champion"),
    ("deploy", "deploy it"),
    ("serve", "start the inference server"),
    ("predict", "predict over HTTP"),
)


class Observer(Protocol):
    """Hears the journey: each step of :data:`STEPS` begins, may advance, then ends or is
    skipped. A step that raises neither ends nor is skipped."""

    def begin(self, step: str, total: int | None = None) -> None:
        """``step`` starts; ``total`` units of work when it counts them (epochs)."""

    def advance(self, done: int, detail: str) -> None:
        """``done`` units of the current step are finished."""

    def end(self, detail: str) -> None:
        """The current step is done: ``detail`` is one line of what it made."""

    def skip(self, reason: str) -> None:
        """The current step cannot run here, and why (a few words)."""


class Silent:
    """An observer that hears nothing."""

    def begin(self, step: str, total: int | None = None) -> None:
        return None

    def advance(self, done: int, detail: str) -> None:
        return None

    def end(self, detail: str) -> None:
        return None

    def skip(self, reason: str) -> None:
        return None


@dataclass(frozen=True)
class Prediction:
    """One shopper's answer from the inference server (1: will churn)."""

    shopper_id: int
    churned: Any


@dataclass(frozen=True)
class Step:
    """A step of the journey, what it did, and the CLI command that shows its result."""

    step: str
    did: str
    command: str


@dataclass(frozen=True)
class QuickstartResult:
    """What the quickstart made, and where each part can be seen again.

    ``server_url``, ``prediction_log`` and ``predictions`` are empty when the serving steps
    were skipped; ``skipped`` says why, by step. ``command`` is how the commands in ``steps``
    start (``griffin``, or ``griffin -p PROJECT``).
    """

    project: str
    folder: str
    experiment: str
    run_id: str
    run_name: str
    status: str
    epochs: int
    final_metrics: dict[str, float]
    artifacts: list[str]
    dataset: str
    dataset_version: int
    holdout_dataset: str
    holdout_version: int
    model: str
    version: int
    alias: str
    evaluation: dict[str, float]
    deployment: str
    server_url: str | None
    prediction_log: str | None
    predictions: list[Prediction]
    seconds: float
    command: str
    skipped: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
