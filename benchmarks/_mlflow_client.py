"""MLflow's own client, unchanged, against Griffin's server: the other half of the comparison.

Griffin's server serves MLflow's REST API (``griffin.integrations.mlflow``), so the worker that
times ``MlflowClient`` against ``mlflow server`` (``_mlflow_worker.py bench``, in MLflow's venv)
is pointed at the Griffin server's URL with the very same arguments. Only the seeding differs:
the 10,000-run corpus is already in Griffin's database (``_griffin_side.seed_griffin``), and the
model whose alias is resolved is registered through Griffin's own REST API (a dozen requests),
so the timed part is the MLflow client and nothing else.
"""

from __future__ import annotations

from pathlib import Path

from _common import BenchError, Measure, Sizes, say
from _measure import API, Rest
from _mlflow_side import alias_argv, bench_argv, mlflow_worker, to_measures, worker_timeout
from _registry_load import ALIAS, ALIAS_VERSION, MODEL, VERSIONS
from _workload import SEARCH_EXPERIMENT

PROJECT = "default"


def seed_alias(url: str) -> None:
    """``MODEL`` with ``VERSIONS`` versions and ``ALIAS`` on ``ALIAS_VERSION``, as the MLflow
    side seeds it with ``MlflowClient`` (there: the same calls through MLflow's API)."""
    rest = Rest(url)
    try:
        run_id = rest.create_run("alias-bench")
        models = f"{API}/projects/{PROJECT}/models/{MODEL}"
        for _ in range(VERSIONS):
            rest.post(
                f"{models}/versions", {"source": f"runs:/{run_id}/model", "flavor": "sklearn"}
            )
        response = rest.http.put(f"{models}/aliases/{ALIAS}", json={"version": ALIAS_VERSION})
        if response.status_code >= 400:
            raise BenchError(f"PUT alias: {response.status_code} {response.text[:300]}")
    finally:
        rest.close()


def run_mlflow_client(
    url: str, home: Path, sizes: Sizes, tag: str, notes: list[str]
) -> dict[str, Measure]:
    """The MLflow worker's workload against the Griffin server at ``url``; its figures."""
    argv = bench_argv(url, sizes, ["--search-experiment-name", SEARCH_EXPERIMENT])
    try:
        seed_alias(url)
        argv += alias_argv(sizes)
    except BenchError as exc:
        notes.append(f"{tag}: alias rows skipped, seeding through Griffin's REST API failed: {exc}")
    say(
        f"  MLflow client -> Griffin: log_metric x{sizes.mlflow_single}, log_batch "
        f"{sizes.mlflow_batches} x {sizes.batch_size}, create_run x{sizes.mlflow_creates}, "
        "search, alias resolution"
    )
    raw = mlflow_worker(argv, home, home / "mlflow-client.log", worker_timeout(sizes))
    return to_measures(raw, tag, notes)
