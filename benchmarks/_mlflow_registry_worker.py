"""The MLflow side of the registry benchmark; runs in MLflow's own venv (``.bench/mlflow-venv``).

``registry.py`` (through ``_registry_mlflow.py``) starts this script against a running
``mlflow server`` and never imports it. It seeds the same registry shape as the Griffin side
(``_registry_load.py``), runs the same bounded load loops with MLflow's own client, and prints
one JSON object as its last line of output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _registry_load import (
    ALIAS,
    ALIAS_VERSION,
    MODEL,
    OTHER_PREFIX,
    OTHER_VERSIONS,
    VERSIONS,
    drive,
    latency_stats,
    repeat,
)

REGISTER_MODEL = "bench-register"
LOGGED_MODEL = "bench-logged"


def _seed(client: Any, uri: str, others: int, threads: int) -> tuple[str, str, float]:
    """The measured model and ``others`` more; returns the experiment, the run and seconds."""
    from mlflow.tracking import MlflowClient  # type: ignore[import-not-found, unused-ignore]

    t0 = time.perf_counter()
    experiment_id = client.create_experiment("registry-bench")
    run_id = client.create_run(experiment_id).info.run_id
    source = f"runs:/{run_id}/model"
    client.create_registered_model(MODEL)
    for _ in range(VERSIONS):
        client.create_model_version(MODEL, source, run_id)
    client.set_registered_model_alias(MODEL, ALIAS, str(ALIAS_VERSION))

    def one(i: int) -> None:
        mine = MlflowClient(tracking_uri=uri, registry_uri=uri)
        name = f"{OTHER_PREFIX}{i:04d}"
        mine.create_registered_model(name)
        for _ in range(OTHER_VERSIONS):
            mine.create_model_version(name, source, run_id)
        mine.set_registered_model_alias(name, ALIAS, "1")

    # Seeding is not measured: threads make MLflow's part of it take seconds, not a minute.
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(others)))
    return experiment_id, run_id, time.perf_counter() - t0


def _optional(out: dict[str, Any], key: str, step: Callable[[], dict[str, Any]]) -> None:
    """A step whose failure is reported, not fatal (the alias rows are what matter most)."""
    try:
        out[key] = step()
    except Exception as exc:
        traceback.print_exc()
        out.setdefault("errors", {})[key] = f"{type(exc).__name__}: {str(exc)[:300]}"


def _bench(args: argparse.Namespace) -> dict[str, Any]:
    import mlflow  # type: ignore[import-not-found, unused-ignore]
    from mlflow.store.artifact.models_artifact_repo import (  # type: ignore[import-not-found, unused-ignore]
        ModelsArtifactRepository,
    )
    from mlflow.tracking import MlflowClient  # type: ignore[import-not-found, unused-ignore]

    uri = args.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    out: dict[str, Any] = {"version": mlflow.__version__}
    experiment_id, run_id, seeded = _seed(client, uri, args.others, args.threads)
    out["seed_s"] = seeded
    out["seeded_versions"] = VERSIONS + args.others * OTHER_VERSIONS

    found = client.get_model_version_by_alias(MODEL, ALIAS)
    if str(found.version) != str(ALIAS_VERSION):
        raise SystemExit(f"alias {ALIAS} resolved to version {found.version}")

    def alias_call() -> Callable[[], object]:
        mine = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return lambda: mine.get_model_version_by_alias(MODEL, ALIAS)

    for threads, total in ((1, args.calls_1), (args.threads, args.calls_8)):
        out[f"alias_{threads}"] = drive(
            alias_call, threads=threads, total=total, budget_s=args.budget_s, warmup=5
        )

    # What mlflow.<flavor>.load_model("models:/m@champion") does before downloading: a new
    # client, get_model_version_by_alias, get_model_version_download_uri, the repository.
    model_uri = f"models:/{MODEL}@{ALIAS}"
    out["uri_target"] = ModelsArtifactRepository.get_underlying_uri(model_uri)  # type: ignore[no-untyped-call, unused-ignore]
    out["uri"] = drive(
        lambda: lambda: ModelsArtifactRepository(model_uri),
        threads=1,
        total=args.cold,
        budget_s=args.budget_s,
        warmup=2,
    )

    source = f"runs:/{run_id}/model"
    client.create_registered_model(REGISTER_MODEL)
    _optional(
        out,
        "register_client",
        lambda: latency_stats(
            repeat(
                lambda: client.create_model_version(REGISTER_MODEL, source, run_id),
                args.registers,
                args.budget_s,
            )
        ),
    )
    if args.log_models > 0:
        logged: list[str] = []
        _optional(out, "log_model", lambda: _log_model(mlflow, experiment_id, args, logged))
        if logged:
            # MLflow 3 registers a logged model (models:/<model id>); a bare runs:/ folder
            # with no logged model under it is refused.
            _optional(
                out,
                "register_model",
                lambda: latency_stats(
                    repeat(
                        lambda: mlflow.register_model(logged[0], REGISTER_MODEL),
                        args.registers,
                        args.budget_s,
                    )
                ),
            )
        if logged and args.loads > 0:
            client.set_registered_model_alias(LOGGED_MODEL, ALIAS, "1")
            _optional(out, "load", lambda: _load(mlflow, args))
    return out


def _tiny_model() -> tuple[Any, Any]:
    import numpy as np  # type: ignore[import-not-found, unused-ignore]
    import pandas as pd  # type: ignore[import-not-found, unused-ignore]
    from sklearn.linear_model import (  # type: ignore[import-not-found, unused-ignore]
        LogisticRegression,
    )

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    return model, frame.head(5)


def _log_model(
    mlflow: Any, experiment_id: str, args: argparse.Namespace, logged: list[str]
) -> dict[str, Any]:
    model, example = _tiny_model()

    def once() -> None:
        with mlflow.start_run(experiment_id=experiment_id):
            info = mlflow.sklearn.log_model(
                model, name="model", registered_model_name=LOGGED_MODEL, input_example=example
            )
        logged.append(info.model_uri)

    return latency_stats(repeat(once, args.log_models, args.budget_s))


def _load(mlflow: Any, args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd  # type: ignore[import-not-found, unused-ignore]

    loaded: list[Any] = []
    samples = repeat(
        lambda: loaded.append(mlflow.sklearn.load_model(f"models:/{LOGGED_MODEL}@{ALIAS}")),
        args.loads,
        args.budget_s,
    )
    row = pd.DataFrame({"a": [0.1], "b": [0.2], "c": [0.3], "d": [0.4]})
    if len(loaded[-1].predict(row)) != 1:
        raise RuntimeError("the loaded model did not predict one row")
    return latency_stats(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench")
    bench.add_argument("--tracking-uri", required=True)
    bench.add_argument("--others", type=int, default=200)
    bench.add_argument("--threads", type=int, default=8)
    bench.add_argument("--calls-1", type=int, default=300)
    bench.add_argument("--calls-8", type=int, default=800)
    bench.add_argument("--cold", type=int, default=50)
    bench.add_argument("--registers", type=int, default=30)
    bench.add_argument("--log-models", type=int, default=3)
    bench.add_argument("--loads", type=int, default=5)
    bench.add_argument("--budget-s", type=float, default=30.0, help="time cap per measurement")
    args = parser.parse_args(argv)
    result = _bench(args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
