"""Griffin's experiments and runs as MLflow's JSON messages (``service.proto``'s shapes)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from griffin.domain.tracking import Experiment, Metric, Run
from griffin.integrations.mlflow.protocol import ms

__all__ = [
    "ARTIFACTS_SCHEME",
    "DEFAULT_EXPERIMENT_ID",
    "DEFAULT_EXPERIMENT_NAME",
    "LOGGED_MODELS_DIR",
    "experiment_id",
    "experiment_json",
    "key_values",
    "metric_json",
    "run_artifact_uri",
    "run_info_json",
    "run_json",
    "store_key",
]

ARTIFACTS_SCHEME = "mlflow-artifacts:/"
# The client logs to experiment "0" when none is set; it is the project's "Default" experiment.
DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
# A logged model's files live in its run's artifacts, under this folder and the model's id.
LOGGED_MODELS_DIR = "logged_models"


def key_values(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def store_key(artifact_uri: str) -> str:
    """The artifact store key of a run's artifact folder: ``<project_id>/<run_id>/artifacts``.

    Griffin's run URIs end with the key, whatever the artifact root (see
    :func:`griffin.tracking.runs.artifact_prefix`).
    """
    return "/".join(artifact_uri.rstrip("/").split("/")[-3:])


def run_artifact_uri(artifact_uri: str) -> str:
    """A run's artifact folder as the MLflow client reaches it: through the server's proxy."""
    return ARTIFACTS_SCHEME + store_key(artifact_uri)


def experiment_id(experiment: Experiment) -> str:
    return DEFAULT_EXPERIMENT_ID if experiment.name == DEFAULT_EXPERIMENT_NAME else experiment.id


def experiment_json(experiment: Experiment, project_id: str) -> dict[str, Any]:
    tags = dict(experiment.tags)
    if experiment.description and "mlflow.note.content" not in tags:
        tags["mlflow.note.content"] = experiment.description
    return {
        "experiment_id": experiment_id(experiment),
        "name": experiment.name,
        "artifact_location": f"{ARTIFACTS_SCHEME}{project_id}",
        "lifecycle_stage": experiment.lifecycle,
        "creation_time": ms(experiment.created_at),
        "last_update_time": ms(experiment.updated_at),
        "tags": key_values(tags),
    }


def _double(value: float) -> float | str:
    """JSON has no NaN or infinities: protobuf's JSON writes them as strings."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def metric_json(metric: Metric) -> dict[str, Any]:
    return {
        "key": metric.key,
        "value": _double(metric.value),
        "timestamp": metric.timestamp_ms,
        "step": metric.step,
    }


def run_info_json(run: Run) -> dict[str, Any]:
    default = run.experiment == DEFAULT_EXPERIMENT_NAME
    exp_id = DEFAULT_EXPERIMENT_ID if default else run.experiment_id
    info: dict[str, Any] = {
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": exp_id,
        "user_id": run.user,
        "status": str(run.status),
        "start_time": ms(run.created_at),
        "artifact_uri": run_artifact_uri(run.artifact_uri),
        "lifecycle_stage": run.lifecycle,
    }
    if run.ended_at is not None:
        info["end_time"] = ms(run.ended_at)
    return info


def run_json(run: Run, outputs: Sequence[tuple[str, int]] = ()) -> dict[str, Any]:
    """A run; ``outputs`` are the (model id, step) of the logged models it produced."""
    tags = dict(run.tags)
    # MLflow's server answers with these system tags; Griffin keeps them as columns.
    tags.setdefault("mlflow.runName", run.name)
    tags.setdefault("mlflow.user", run.user)
    if run.parent_run_id:
        tags.setdefault("mlflow.parentRunId", run.parent_run_id)
    return {
        "info": run_info_json(run),
        "data": {
            "metrics": [metric_json(m) for m in run.metrics.values()],
            "params": key_values(run.params),
            "tags": key_values(tags),
        },
        "inputs": {},
        "outputs": {"model_outputs": [{"model_id": m, "step": step} for m, step in outputs]},
    }
