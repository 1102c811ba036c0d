"""``griffin init``: small, complete projects to start from, one per ML library.

Each template writes ``griffin.toml``, ``features.py`` (an entity, a feature view over the
bundled sample data, a feature service), ``model.py`` (a model definition), a test of
``train()``, the runtime's ``Dockerfile``, a README and the sample data itself, generated
here with a fixed seed so every project starts from the same rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from griffin.errors import AlreadyExists, InvalidArgument

__all__ = ["TEMPLATES", "Template", "check_project_name", "create_project", "write_sample_data"]

FILES = Path(__file__).parent / "files"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class Template:
    """One project template: its library, runtime and the learning task it shows."""

    name: str
    library: str
    runtime: str
    target: str
    task: str
    task_text: str
    gate: str
    param: str


TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "sklearn",
            "scikit-learn",
            "sklearn-1",
            "churned",
            "classification",
            "predicts whether a customer churns",
            "auc>=0.7",
            "max_depth=8",
        ),
        Template(
            "xgboost",
            "XGBoost",
            "xgboost-1",
            "churned",
            "classification",
            "predicts whether a customer churns",
            "auc>=0.7",
            "max_depth=6",
        ),
        Template(
            "lightgbm",
            "LightGBM",
            "lightgbm-1",
            "spend_next_30d",
            "regression",
            "predicts how much a customer spends over the next 30 days",
            "rmse<=40",
            "num_leaves=31",
        ),
        Template(
            "pytorch",
            "PyTorch",
            "pytorch-1",
            "churned",
            "classification",
            "predicts whether a customer churns",
            "accuracy>=0.7",
            "hidden=32",
        ),
    )
}


def check_project_name(name: str) -> str:
    """A project (and model) name: a letter, then up to 63 letters, digits, ``_`` and ``-``."""
    if not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"invalid project name {name[:40]!r}: use a letter, then up to 63 letters, "
            "digits, _ and - (it names the folder, the project and the model)",
            details={"field": "name"},
        )
    return name


def _render(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"__{key}__", value)
    leftover = re.search(r"__[A-Z_]+__", text)
    if leftover is not None:  # pragma: no cover - a template bug, caught by the tests
        raise AssertionError(f"template placeholder {leftover.group()} was not filled")
    return text


def create_project(name: str, template: str, dest: str | Path | None = None) -> Path:
    """Write a new project from ``template`` into ``dest`` (default ``./NAME``).

    Raises:
        InvalidArgument: a bad name or an unknown template.
        AlreadyExists: ``dest`` exists and is not an empty folder.
    """
    from griffin.training.runtimes import dockerfile, get_runtime

    check_project_name(name)
    chosen = TEMPLATES.get(template)
    if chosen is None:
        raise InvalidArgument(
            f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}",
            details={"field": "template"},
        )
    folder = Path(dest) if dest is not None else Path(name)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise AlreadyExists(
            f"{folder} already exists and is not empty: choose another name or --dir",
            details={"path": str(folder)},
        )
    service = name.replace("-", "_") + "_features"
    other = "spend_next_30d" if chosen.target == "churned" else "churned"
    values = {
        "PROJECT": name,
        "MODEL": name,
        "SERVICE": service,
        "TEMPLATE": template,
        "TASK_TEXT": chosen.task_text,
        "LIBRARY": chosen.library,
        "RUNTIME": chosen.runtime,
        "GATE": chosen.gate,
        "PARAM": chosen.param,
        "TARGET": chosen.target,
        "OTHER_TARGET": other,
        "TASK": chosen.task,
        "EXAMPLE": '"orders_30d": 2, "spend_30d": 80.0, "days_since_order": 21.0, '
        '"support_tickets_90d": 1, "tenure_days": 400.0',
    }
    common = FILES / "common"
    outputs = {
        "griffin.toml": common / "griffin.toml.tmpl",
        "README.md": common / "README.md.tmpl",
        ".gitignore": common / "gitignore.tmpl",
        "features.py": common / "features.py.tmpl",
        "model.py": FILES / template / "model.py.tmpl",
        "tests/conftest.py": common / "conftest.py.tmpl",
        "tests/test_model.py": common / "test_model.py.tmpl",
    }
    folder.mkdir(parents=True, exist_ok=True)
    for relative, source in outputs.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_render(source.read_text(encoding="utf-8"), values), encoding="utf-8")
    (folder / "Dockerfile").write_text(dockerfile(get_runtime(chosen.runtime)), encoding="utf-8")
    write_sample_data(folder / "data")
    return folder


def write_sample_data(folder: Path, customers: int = 400, weeks: int = 12, seed: int = 7) -> None:
    """Weekly customer stats and labelled customers, with a fixed seed.

    ``customer_stats.parquet``: one row per customer and week. ``labels.parquet``: each
    customer at two points in time, whether they churned within the next 30 days and what
    they spent; both depend on the stats at that time (plus noise), so a model can learn them.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    ids = np.arange(1, customers + 1)
    engagement = rng.gamma(2.0, 1.0, customers)  # each customer's underlying activity level
    tenure0 = rng.uniform(30, 900, customers)
    rows = []
    for week in range(weeks):
        drift = np.clip(engagement + rng.normal(0, 0.3, customers) - 0.04 * week, 0.05, None)
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": ids,
                    "event_timestamp": start + timedelta(weeks=week),
                    "orders_30d": rng.poisson(drift * 2),
                    "spend_30d": np.round(rng.gamma(2.0, 20.0, customers) * drift, 2),
                    "days_since_order": np.round(rng.exponential(12.0 / drift), 1),
                    "support_tickets_90d": rng.poisson(0.4 + 0.3 / drift),
                    "tenure_days": tenure0 + 7.0 * week,
                }
            )
        )
    stats = pd.concat(rows, ignore_index=True)
    labels = []
    for week in (weeks // 2, weeks - 2):
        at = stats[stats["event_timestamp"] == start + timedelta(weeks=week)]
        risk = (
            0.08 * at["days_since_order"]
            - 0.5 * at["orders_30d"]
            + 0.6 * at["support_tickets_90d"]
            - 0.001 * at["tenure_days"]
            + rng.normal(0, 0.7, len(at))
        )
        spend = at["spend_30d"] * 0.8 + 12 * at["orders_30d"] + rng.normal(0, 10, len(at))
        labels.append(
            pd.DataFrame(
                {
                    "customer_id": at["customer_id"].to_numpy(),
                    # Labelled a day after the snapshot: the join must find the week's stats.
                    "event_timestamp": start + timedelta(weeks=week, days=1),
                    "churned": (risk > 0).astype("int64").to_numpy(),
                    "spend_next_30d": np.round(np.clip(spend, 0, None), 2).to_numpy(),
                }
            )
        )
    folder.mkdir(parents=True, exist_ok=True)
    stats.to_parquet(folder / "customer_stats.parquet", index=False)
    pd.concat(labels, ignore_index=True).to_parquet(folder / "labels.parquet", index=False)
