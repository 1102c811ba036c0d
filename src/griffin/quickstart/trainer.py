"""The quickstart's model: a logistic regression trained epoch by epoch, no tracking in here.

scikit-learn's ``SGDClassifier`` (log loss) behind a median imputer and a standard scaler,
one shuffled ``partial_fit`` pass of mini-batches per epoch, so there is a metric curve to
watch. The imputer is there for serving: an entity the online store does not know comes back
with null features, and the model still answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray
    from sklearn.pipeline import Pipeline

__all__ = ["EPOCHS", "Trainer"]

EPOCHS = 20
BATCH_SIZE = 32
LEARNING_RATE = 0.01
ALPHA = 1e-4
VALIDATION_FRACTION = 0.25


class Trainer:
    """Data split, preprocessing and one epoch of mini-batch training.

    Args:
        features: the feature columns of the training set (cast to float64, the model's
            input types, so a null read online is a NaN the imputer fills).
        target: the 0/1 label, one per row.
        epochs: how many passes :meth:`epoch` is meant to be called for (recorded as a param).
        seed: seeds the split, the shuffles and the model.
    """

    def __init__(self, features: pd.DataFrame, target: pd.Series, epochs: int, seed: int) -> None:
        import numpy as np
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import SGDClassifier
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        frame = features.astype("float64")
        labels = target.to_numpy(dtype=np.int64)
        x_train, x_val, y_train, y_val = train_test_split(
            frame, labels, test_size=VALIDATION_FRACTION, random_state=seed, stratify=labels
        )
        self.columns = list(frame.columns)
        self.example: pd.DataFrame = x_train.head(5)
        self.imputer = SimpleImputer(strategy="median").fit(x_train)
        self.scaler = StandardScaler().fit(self.imputer.transform(x_train))
        self.x_train: NDArray[np.float64] = self._prepare(x_train)
        self.x_val: NDArray[np.float64] = self._prepare(x_val)
        self.y_train: NDArray[np.int64] = y_train
        self.y_val: NDArray[np.int64] = y_val
        self.classes = np.array([0, 1])
        self.epochs = epochs
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.model = SGDClassifier(
            loss="log_loss",
            learning_rate="constant",
            eta0=LEARNING_RATE,
            alpha=ALPHA,
            random_state=seed,
        )

    def _prepare(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        result: NDArray[np.float64] = self.scaler.transform(self.imputer.transform(frame))
        return result

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
            "imputer": "SimpleImputer(median)",
            "scaler": "StandardScaler",
            "n_features": len(self.columns),
            "n_train": len(self.y_train),
            "n_val": len(self.y_val),
            "seed": self.seed,
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

    def pipeline(self) -> Pipeline:
        """The fitted imputer, scaler and classifier as one model taking the feature columns."""
        from sklearn.pipeline import Pipeline

        return Pipeline(
            [("impute", self.imputer), ("scale", self.scaler), ("classify", self.model)]
        )
