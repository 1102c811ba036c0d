"""Evaluate and compare registered model versions from the SDK."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from griffin.client.feature_data import FeatureDataMixin
from griffin.client.feature_online import FeatureOnlineMixin
from griffin.client.model_definitions import ModelDefinitionsMixin
from griffin.client.models import ModelsMixin
from griffin.domain.registry import EVALUATED_ON_TAG, TARGET_TAG, TASK_TAG, ModelVersion
from griffin.errors import InvalidArgument

__all__ = ["Evaluation", "EvaluationMixin"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Metrics of one model version on one dataset, as stored against the version."""

    name: str
    version: int
    task: str
    target: str
    rows: int
    metrics: dict[str, float]
    dataset: str | None = None
    dataset_version: int | None = None
    run_id: str | None = None
    previous: dict[str, float] = field(default_factory=dict)


class EvaluationMixin(ModelsMixin, FeatureDataMixin, FeatureOnlineMixin, ModelDefinitionsMixin):
    def predict(self, ref: str, data: Any, *, online_features: bool | None = None) -> Any:
        """Predictions of a registered version for a batch of rows, in this process.

        When the rows lack the model's input columns and the version was trained on a
        feature service, the features are read from the online store for the rows' entity
        keys first (``online_features=None``: only when needed; ``True``: always).

        Args:
            ref: ``name@alias``, ``name@latest`` or ``name/3``.
            data: a pandas DataFrame, a dict of columns, a list of row dicts or an Arrow
                table.

        Returns:
            A DataFrame: the input's columns, then ``prediction`` (or one column per output
            of a multi-output model), as ``griffin predict`` writes them. For files or
            queries of rows, features as of a time and output written in chunks, use
            ``griffin predict --output`` (a recorded job).
        """
        import pandas as pd

        from griffin.registry.flavors import as_frame
        from griffin.training.batch_predict import prediction_frame

        version = self.resolve_model(ref)
        loaded = self._load_version(version)
        frame = as_frame(data).reset_index(drop=True)
        inputs = [c["name"] for c in (version.signature or {}).get("inputs", [])]
        missing = [c for c in inputs if c not in frame.columns]
        service = version.lineage.feature_service
        if service and (online_features or (online_features is None and missing)):
            fetched = self.get_online_features(
                service, frame, definitions=self.version_features(version)
            ).to_pandas()
            new = [c for c in fetched.columns if c not in frame.columns]
            frame = pd.concat([frame, fetched[new].reset_index(drop=True)], axis=1)
        predictions = prediction_frame(loaded.predict(frame))
        # Columns of the same names are replaced, as `griffin predict` replaces them.
        out = frame.drop(columns=[c for c in predictions.columns if c in frame.columns])
        return pd.concat([out, predictions], axis=1)

    def evaluate_model(
        self,
        ref: str,
        *,
        dataset: str | None = None,
        dataset_version: int | None = None,
        data: Any = None,
        target: str | None = None,
        task: str | None = None,
        store: bool = True,
    ) -> Evaluation:
        """Compute standard metrics of a version on a saved dataset (or a DataFrame).

        Classification: ``auc``, ``log_loss`` (both need class probabilities) and
        ``accuracy``; regression: ``rmse``, ``mae`` and ``r2``. With ``store`` (the default)
        the metrics are merged into the version's metrics — where promotion gates read them
        — and logged to a tracked run in the experiment ``evaluate <name>``.

        Args:
            ref: ``name@alias``, ``name@latest`` or ``name/3``.
            dataset: a saved dataset's name (``griffin features datasets list``).
            dataset_version: its version (default: the newest).
            data: instead of a dataset, a pandas DataFrame (or anything with ``to_pandas``).
            target: the label column; default: the target the version was trained for.
            task: ``classification`` or ``regression``; default: the version's, else
                inferred from the target's values.
        """
        from griffin.registry.evaluation import evaluate

        if (dataset is None) == (data is None):
            raise InvalidArgument("give either dataset= (a saved dataset's name) or data=")
        version = self.resolve_model(ref)
        target = target or version.tags.get(TARGET_TAG)
        if not target:
            raise InvalidArgument(
                f"{version.name} v{version.version} does not record its target column: pass "
                "target= (--target)",
                details={"field": "target"},
            )
        chosen_task = task or version.tags.get(TASK_TAG) or None
        if dataset is not None:
            found = self.get_dataset(dataset, dataset_version)
            dataset_version = found.version
            frame = self.load_dataset(dataset, found.version).to_pandas()
        else:
            frame = data.to_pandas() if hasattr(data, "to_pandas") else data
        loaded = self._load_version(version)
        metrics = evaluate(loaded, frame, target, chosen_task)  # type: ignore[arg-type]
        from griffin.registry.evaluation import infer_task

        final_task = chosen_task or infer_task(frame[target].to_numpy())
        run_id = None
        if store:
            on = f"{dataset}@{dataset_version}" if dataset is not None else "a DataFrame"
            run = self.create_run(
                f"evaluate {version.name}",
                name=f"{version.name}-v{version.version}",
                params={
                    "model": f"{version.name}/{version.version}",
                    "data": on,
                    "task": final_task,
                },
            )
            self.log_batch(run.id, [(k, v, 0) for k, v in metrics.items()])
            self.end_run(run.id)
            run_id = run.id
            self.update_model_version(
                version.name, version.version, metrics=metrics, tags={EVALUATED_ON_TAG: on}
            )
        return Evaluation(
            name=version.name,
            version=version.version,
            task=final_task,
            target=target,
            rows=len(frame),
            metrics=metrics,
            dataset=dataset,
            dataset_version=dataset_version,
            run_id=run_id,
            previous={k: version.metrics[k] for k in metrics if k in version.metrics},
        )

    def _load_version(self, version: ModelVersion) -> Any:
        from griffin.registry.flavors import load_model

        return load_model(self._download_version(version, None))

    def compare_models(self, a: str, b: str) -> dict[str, Any]:
        """Two versions side by side: metrics (with the difference b - a), params, flavor,
        and the lineage fields that differ."""
        first, second = self.resolve_model(a), self.resolve_model(b)
        metrics = {
            key: {
                "a": first.metrics.get(key),
                "b": second.metrics.get(key),
                "diff": (second.metrics[key] - first.metrics[key])
                if key in first.metrics and key in second.metrics
                else None,
            }
            for key in sorted(set(first.metrics) | set(second.metrics))
        }
        params = {
            key: {"a": first.params.get(key), "b": second.params.get(key)}
            for key in sorted(set(first.params) | set(second.params))
        }
        la, lb = first.lineage.to_json(), second.lineage.to_json()
        lineage = {k: {"a": la[k], "b": lb[k]} for k in la if la[k] != lb[k]}
        return {
            "a": {"name": first.name, "version": first.version, "flavor": first.flavor},
            "b": {"name": second.name, "version": second.version, "flavor": second.flavor},
            "metrics": metrics,
            "params": params,
            "lineage": lineage,
        }
