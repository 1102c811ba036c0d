"""What a model definition's ``train(ctx)`` function receives.

The context hands over the parameters (the definition's defaults with the job's overrides),
the training data with a reproducible train/validation split, and ways to log metrics,
artifacts and checkpoints to the job's tracked run. Everything logged lands in the run, and
the last value of each metric is recorded with the model version the job registers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from griffin.client import Client
    from griffin.domain.datasets import Dataset

__all__ = ["TrainingContext"]

JsonScalar = str | int | float | bool | None


@dataclass
class TrainingContext:
    """The argument of ``train(ctx)``.

    In your own tests, build one with :meth:`for_testing`.

    Attributes:
        params: hyper-parameters: the definition's defaults, overridden by the job's
            (``griffin train --param max_depth=8``), with their JSON types.
        model_name: the model definition (and registered model) name.
        target: the label column, when the definition names one.
        task: ``classification``, ``regression`` or None.
        data: the whole training data as an Arrow table (None when the job has no data).
        dataset: the saved dataset the data is (name, version, column roles, lineage).
        job_id, attempt, run_id: the job, which attempt this is (retries count up from 1),
            and the tracked run receiving metrics and artifacts.
        workdir: a scratch folder for this attempt.
        world_size, rank: how many workers run ``train`` together and which one this is
            (0 to ``world_size - 1``); 1 and 0 unless the job is distributed (``workers`` > 1
            on the ``ray`` backend), where ``data`` is this worker's shard and the model
            returned by rank 0 is registered.
    """

    params: dict[str, JsonScalar]
    model_name: str
    client: Client | None = field(default=None, repr=False)
    run_id: str | None = None
    job_id: str = ""
    attempt: int = 1
    target: str | None = None
    task: str | None = None
    data: pa.Table | None = field(default=None, repr=False)
    dataset: Dataset | None = field(default=None, repr=False)
    workdir: Path = field(default_factory=Path.cwd)
    world_size: int = 1
    rank: int = 0
    metrics: dict[str, float] = field(default_factory=dict, init=False)
    _steps: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    # ------------------------------------------------------------------ data
    @cached_property
    def frame(self) -> pd.DataFrame:
        """All training rows as a pandas DataFrame."""
        if self.data is None:
            raise InvalidArgument(
                "this job has no training data: submit it with --dataset NAME or "
                "--entity-rows PATH (or load your own data in train())"
            )
        frame: pd.DataFrame = self.data.to_pandas()
        return frame

    @property
    def validation_fraction(self) -> float:
        """``params["validation_fraction"]`` (default 0.2)."""
        value = self.params.get("validation_fraction", 0.2)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise InvalidArgument(
                f"param validation_fraction must be a number in [0, 1), got {value!r}"
            )
        return float(value)

    @property
    def seed(self) -> int:
        """``params["seed"]`` (default 0): the split and your own randomness should use it."""
        value = self.params.get("seed", 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"param seed must be an integer, got {value!r}")
        return value

    @cached_property
    def _split(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        # A seeded permutation of row positions: the same dataset, seed and fraction always
        # give the same split, on any machine and on every retry.
        rows = len(self.frame)
        order = np.random.default_rng(self.seed).permutation(rows)
        cut = rows - round(rows * self.validation_fraction)
        return np.sort(order[:cut]), np.sort(order[cut:])

    @property
    def train(self) -> pd.DataFrame:
        """The training rows (``1 - validation_fraction`` of them, reproducibly chosen)."""
        return self.frame.iloc[self._split[0]].reset_index(drop=True)

    @property
    def validation(self) -> pd.DataFrame:
        """The validation rows."""
        return self.frame.iloc[self._split[1]].reset_index(drop=True)

    @cached_property
    def feature_columns(self) -> list[str]:
        """The model's input columns: the dataset's feature columns (not keys, timestamps or
        labels); without column roles, every column but the target and timestamps."""
        roles = {c.name: c.role for c in self.dataset.columns} if self.dataset else {}
        if roles and any(role == "feature" for role in roles.values()):
            return [c for c in self.frame.columns if roles.get(c) == "feature"]
        frame = self.frame
        return [
            c
            for c in frame.columns
            if c != self.target and not str(frame[c].dtype).startswith(("datetime", "timestamp"))
        ]

    def _target(self) -> str:
        if not self.target:
            raise InvalidArgument(
                f"model definition {self.model_name!r} names no target column: add "
                "target='...' to @griffin.model, or select the label column yourself"
            )
        if self.target not in self.frame.columns:
            raise InvalidArgument(
                f"the training data has no target column {self.target!r}; its columns: "
                f"{', '.join(map(str, self.frame.columns[:20]))}"
            )
        return self.target

    @property
    def X_train(self) -> pd.DataFrame:
        """Feature columns of the training rows."""
        return self.train[self.feature_columns]

    @property
    def y_train(self) -> pd.Series:
        """Target of the training rows."""
        return self.train[self._target()]

    @property
    def X_valid(self) -> pd.DataFrame:
        """Feature columns of the validation rows."""
        return self.validation[self.feature_columns]

    @property
    def y_valid(self) -> pd.Series:
        """Target of the validation rows."""
        return self.validation[self._target()]

    # ------------------------------------------------------------------ logging
    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Log one metric value to the run (``step`` counts up per key when omitted); the
        last value of each metric is stored with the model version."""
        self.log_metrics({key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics at one step."""
        points = []
        for key, value in metrics.items():
            at = self._steps.get(key, -1) + 1 if step is None else step
            self._steps[key] = at
            points.append((key, float(value), at))
            self.metrics[key] = float(value)
        if self.client is not None and self.run_id is not None:
            self.client.log_batch(self.run_id, points)

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        """Upload a file or folder to the run's artifacts."""
        if self.client is not None and self.run_id is not None:
            self.client.log_artifact(self.run_id, path, artifact_path)

    @property
    def checkpoint_dir(self) -> Path:
        """A local folder for checkpoints; :meth:`save_checkpoint` uploads it."""
        folder = self.workdir / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def save_checkpoint(self, files: Sequence[str | os.PathLike[str]] = ()) -> None:
        """Upload :attr:`checkpoint_dir` (or the given files) to the run under
        ``checkpoints/``, so a later attempt or a person can pick the training up."""
        if self.client is None or self.run_id is None:
            return
        for path in files or [self.checkpoint_dir]:
            self.client.log_artifact(self.run_id, path, "checkpoints")

    @classmethod
    def for_testing(
        cls,
        data: Any,
        *,
        params: Mapping[str, JsonScalar] | None = None,
        target: str | None = None,
        task: str | None = None,
        model_name: str = "test",
        workdir: str | os.PathLike[str] | None = None,
    ) -> TrainingContext:
        """A context for your own tests of ``train(ctx)``: no job, no run; metrics are only
        kept in :attr:`metrics`. ``data`` is a pandas DataFrame or an Arrow table."""
        import pyarrow as pa

        table = (
            data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
        )
        return cls(
            params=dict(params or {}),
            model_name=model_name,
            target=target,
            task=task,
            data=table,
            workdir=Path(workdir) if workdir is not None else Path.cwd(),
        )
