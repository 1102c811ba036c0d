"""The quickstart: train a small, real model and track it, on a machine with nothing set up.

``griffin quickstart`` runs this on the embedded defaults (SQLite under ``$GRIFFIN_HOME``, local
artifacts) or, with ``GRIFFIN_URL`` set, against a server. It trains scikit-learn's
``SGDClassifier`` (logistic regression by stochastic gradient descent) on the breast-cancer data
set bundled with scikit-learn (no download), one ``partial_fit`` pass per epoch, and logs what a
real training script would: params, per-epoch metrics, tags, the fitted model and a summary.
Every call makes a new run in the experiment ``quickstart``.
"""

from __future__ import annotations

import importlib
import json
import pickle
import platform as _platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.errors import NotSupported

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from griffin.config import Settings

__all__ = ["EXPERIMENT", "QuickstartResult", "require_sklearn", "run_quickstart"]

EXPERIMENT = "quickstart"
EPOCHS = 20
SEED = 42
BATCH_SIZE = 32
LEARNING_RATE = 0.01
ALPHA = 1e-4
VALIDATION_FRACTION = 0.25

# Called after each epoch with (epoch, epochs, that epoch's metrics).
EpochCallback = Callable[[int, int, dict[str, float]], None]
# Called as the quickstart moves on: "loading", "connecting", "training", "saving", "done".
StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class QuickstartResult:
    """What the quickstart made: the run, its final metrics and its artifacts."""

    run_id: str
    run_name: str
    experiment: str
    project: str
    status: str
    epochs: int
    final_metrics: dict[str, float]
    artifacts: list[str] = field(default_factory=list)


def require_sklearn() -> None:
    """Raise ``NotSupported`` with the install command unless scikit-learn is importable."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise NotSupported(
            "the quickstart needs scikit-learn, which is not installed: "
            "pip install 'griffin-ml[sklearn]'"
        ) from None


class _Trainer:
    """Data, model and one epoch of mini-batch training; no tracking in here."""

    def __init__(self, epochs: int, seed: int = SEED) -> None:
        import numpy as np
        from sklearn.datasets import load_breast_cancer
        from sklearn.linear_model import SGDClassifier
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        data = load_breast_cancer()
        self.feature_names = [str(name) for name in data.feature_names]
        self.target_names = [str(name) for name in data.target_names]
        x_train, x_val, y_train, y_val = train_test_split(
            data.data,
            data.target,
            test_size=VALIDATION_FRACTION,
            random_state=seed,
            stratify=data.target,
        )
        self.scaler = StandardScaler().fit(x_train)
        self.x_train: NDArray[np.float64] = self.scaler.transform(x_train)
        self.x_val: NDArray[np.float64] = self.scaler.transform(x_val)
        self.y_train: NDArray[np.int64] = y_train
        self.y_val: NDArray[np.int64] = y_val
        self.classes = np.unique(data.target)
        self.epochs = epochs
        self.rng = np.random.default_rng(seed)
        self.model = SGDClassifier(
            loss="log_loss",
            learning_rate="constant",
            eta0=LEARNING_RATE,
            alpha=ALPHA,
            random_state=seed,
        )

    def params(self) -> dict[str, Any]:
        import sklearn

        return {
            "model": "SGDClassifier",
            "loss": "log_loss",
            "learning_rate": LEARNING_RATE,
            "learning_rate_schedule": "constant",
            "alpha": ALPHA,
            "penalty": "l2",
            "epochs": self.epochs,
            "batch_size": BATCH_SIZE,
            "scaler": "StandardScaler",
            "dataset": "sklearn.datasets.load_breast_cancer",
            "n_features": self.x_train.shape[1],
            "n_train": len(self.y_train),
            "n_val": len(self.y_val),
            "seed": SEED,
            "sklearn_version": sklearn.__version__,
        }

    def epoch(self) -> dict[str, float]:
        """One shuffled pass of ``partial_fit`` mini-batches, then the epoch's metrics."""
        import numpy as np
        from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

        order = self.rng.permutation(len(self.y_train))
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            self.model.partial_fit(self.x_train[batch], self.y_train[batch], classes=self.classes)
        p_train = self.model.predict_proba(self.x_train)[:, 1]
        p_val = self.model.predict_proba(self.x_val)[:, 1]
        return {
            "train_loss": float(log_loss(self.y_train, p_train, labels=self.classes)),
            "val_loss": float(log_loss(self.y_val, p_val, labels=self.classes)),
            "val_accuracy": float(accuracy_score(self.y_val, (p_val >= 0.5).astype(np.int64))),
            "val_auc": float(roc_auc_score(self.y_val, p_val)),
        }

    def save(self, folder: Path, final: dict[str, float]) -> dict[str, Path]:
        """Write the fitted pipeline and its companions; returns artifact path -> local file."""
        from sklearn.pipeline import Pipeline

        pipeline = Pipeline([("scaler", self.scaler), ("classifier", self.model)])
        files = {"model/model.pkl": folder / "model.pkl"}
        try:
            # skops files load without running arbitrary code; use it when it is installed.
            skops_io = importlib.import_module("skops.io")
            files = {"model/model.skops": folder / "model.skops"}
            skops_io.dump(pipeline, files["model/model.skops"])
        except ImportError:
            # A plain pickle (not joblib's format) loads with pickle.load and joblib.load alike.
            with files["model/model.pkl"].open("wb") as handle:
                pickle.dump(pipeline, handle, protocol=pickle.HIGHEST_PROTOCOL)
        (folder / "feature_names.json").write_text(json.dumps(self.feature_names, indent=2))
        summary = {
            "final": final,
            "target_names": self.target_names,
            "python": _platform.python_version(),
        }
        (folder / "metrics.json").write_text(json.dumps(summary, indent=2))
        files["feature_names.json"] = folder / "feature_names.json"
        files["metrics.json"] = folder / "metrics.json"
        return files


def run_quickstart(
    settings: Settings | None = None,
    *,
    project: str | None = None,
    epochs: int = EPOCHS,
    on_epoch: EpochCallback | None = None,
    on_stage: StageCallback | None = None,
) -> QuickstartResult:
    """Train the quickstart model and track it as a new run of the ``quickstart`` experiment.

    Raises:
        NotSupported: scikit-learn is not installed.
        GriffinError: the tracking store or server refused a call.
    """
    stage = on_stage or (lambda _: None)
    require_sklearn()
    from griffin.client import Client
    from griffin.client.tracking import start_run

    stage("loading")
    trainer = _Trainer(epochs)
    tags = {
        "griffin.source": "quickstart",
        "framework": "scikit-learn",
        "dataset": "breast_cancer",
        "task": "binary-classification",
    }
    final: dict[str, float] = {}
    stage("connecting")
    with Client(settings=settings, project=project) as client:
        with start_run(
            EXPERIMENT,
            name=f"sgd-logreg-{epochs}-epochs",
            params=trainer.params(),
            tags=tags,
            client=client,
        ) as run:
            stage("training")
            for epoch in range(1, epochs + 1):
                final = trainer.epoch()
                run.log_metrics(final, step=epoch)
                if on_epoch is not None:
                    on_epoch(epoch, epochs, final)
            stage("saving")
            with tempfile.TemporaryDirectory(prefix="griffin-quickstart-") as tmp:
                for artifact_path, local in trainer.save(Path(tmp), final).items():
                    folder = artifact_path.rpartition("/")[0] or None
                    run.log_artifact(local, folder)
        stage("done")
        tracked = client.get_run(run.id)
        artifacts = [a.path for a in client.list_artifacts(run.id)]
    return QuickstartResult(
        run_id=tracked.id,
        run_name=tracked.name,
        experiment=tracked.experiment,
        project=tracked.project,
        status=str(tracked.status),
        epochs=epochs,
        final_metrics=final,
        artifacts=artifacts,
    )
