"""What runs inside ``evaluate`` and ``predict`` jobs (``griffin evaluate|predict --backend``).

Both name the registered version in ``params["ref"]``. An evaluate job scores the saved
dataset in ``data`` (and stores the metrics, like ``griffin evaluate``); a predict job reads
the rows file in ``data["entity_rows"]`` and writes rows and predictions to
``params["output"]``. Paths are read and written by the job's process, so they must exist
where the job runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    from griffin.client import Client

__all__ = ["check_output", "read_rows", "run_evaluate", "run_predict", "write_rows"]

_READERS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json"}
_WRITERS = (".parquet", ".csv", ".jsonl")


def read_rows(path: Path) -> Any:
    """Rows from a ``.parquet``, ``.csv``, ``.json`` or ``.jsonl`` file, as a DataFrame."""
    import pandas as pd

    kind = _READERS.get(path.suffix.lower())
    if kind is None:
        raise InvalidArgument(
            f"{path}: use a .parquet, .csv, .json or .jsonl file of input rows",
            details={"field": "input"},
        )
    if not path.is_file():
        raise InvalidArgument(f"no such file: {path}", details={"field": "input"})
    if kind == "parquet":
        return pd.read_parquet(path)
    if kind == "csv":
        return pd.read_csv(path)
    return pd.read_json(path, lines=path.suffix.lower() == ".jsonl")


def check_output(path: Path) -> Path:
    if path.suffix.lower() not in _WRITERS:
        raise InvalidArgument(
            f"{path}: write .parquet, .csv or .jsonl", details={"field": "output"}
        )
    return path


def write_rows(frame: Any, path: Path) -> None:
    """Write a DataFrame as ``.parquet``, ``.csv`` or ``.jsonl`` (by the suffix)."""
    suffix = check_output(path).suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)


def _ref(params: dict[str, Any]) -> str:
    ref = params.get("ref")
    if not isinstance(ref, str) or not ref:
        raise InvalidArgument("this job names no model version: params.ref is missing")
    return ref


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def run_evaluate(client: Client, job_id: str) -> dict[str, Any]:
    """Run evaluate job ``job_id``; returns (and reports) its result."""
    job = client.get_job(job_id)
    client.report_job(job_id, status="RUNNING")
    params = dict(job.spec.params)
    data = job.spec.data
    if "dataset" not in data:
        raise InvalidArgument("an evaluate job needs a saved dataset in data.dataset")
    result = client.evaluate_model(
        _ref(params),
        dataset=str(data["dataset"]),
        dataset_version=data.get("version"),
        target=_text(params.get("target")),
        task=_text(params.get("task")),
        store=bool(params.get("store", True)),
    )
    print(
        f"griffin: {result.name} v{result.version} on {result.dataset} v{result.dataset_version}"
        f" ({result.rows} rows): "
        + ", ".join(f"{k}={v:.6g}" for k, v in sorted(result.metrics.items())),
        flush=True,
    )
    report = {
        "model": result.name,
        "version": result.version,
        "metrics": result.metrics,
        "task": result.task,
        "rows": result.rows,
        "run_id": result.run_id,
    }
    client.report_job(job_id, result=report)
    return report


def run_predict(client: Client, job_id: str) -> dict[str, Any]:
    """Run predict job ``job_id``; returns (and reports) its result."""
    job = client.get_job(job_id)
    client.report_job(job_id, status="RUNNING")
    params = dict(job.spec.params)
    source = job.spec.data.get("entity_rows")
    output = params.get("output")
    if not isinstance(source, str) or not isinstance(output, str) or not output:
        raise InvalidArgument("a predict job needs its rows in data.entity_rows and params.output")
    ref = _ref(params)
    online = params.get("online_features")
    rows = read_rows(Path(source))
    frame = client.predict(ref, rows, online_features=None if online is None else bool(online))
    write_rows(frame, check_output(Path(output)))
    version = client.resolve_model(ref)
    print(f"griffin: wrote {len(frame)} predictions of {ref} to {output}", flush=True)
    report = {
        "model": version.name,
        "version": version.version,
        "rows": len(frame),
        "output": output,
    }
    client.report_job(job_id, result=report)
    return report
