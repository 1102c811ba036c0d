"""`griffin predict` on the embedded store: a recorded predict job with --output (its process
started by the command's own dispatcher), a printed preview without, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_helpers import Invoke, assert_one_line_error

from griffin.client import Client
from griffin.config import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
from predictfixtures import at, eta, make_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The features and ``eta`` v1 of :mod:`predictfixtures`, in the store the CLI reads."""
    with Client(settings=load_settings()) as client:
        make_project(client, tmp_path / "project")
    return tmp_path / "project"


def test_predict_with_output_is_a_recorded_job(
    cli: Invoke,
    cli_json: Callable[..., Any],
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"driver_id": [2, 1, 1]}).to_parquet("keys.parquet", index=False)
    # A query over a relative path: the job reads it in the folder the command ran in.
    done = cli_json(
        "predict",
        "eta@latest",
        "--entities",
        "SELECT * FROM 'keys.parquet'",
        "--output",
        "out/scored.parquet",
        "--as-of",
        "2026-01-20",
        "--chunk-size",
        "2",
    )
    assert (done["status"], done["model"], done["version"], done["rows"]) == (
        "SUCCEEDED",
        "eta",
        1,
        3,
    )
    assert (done["features"], done["as_of"]) == ("as-of", "2026-01-20T00:00:00+00:00")
    assert done["output"] == str(tmp_path / "out" / "scored.parquet")
    scored = pd.read_parquet(tmp_path / "out" / "scored.parquet")
    assert scored["prediction"].tolist() == pytest.approx([eta(5, 0.75), eta(1, 0.5), eta(1, 0.5)])
    listed = cli_json("jobs", "list")
    assert [(j["id"], j["spec"]["kind"]) for j in listed] == [(done["job_id"], "predict")]
    assert listed[0]["result"]["rows"] == 3
    shown = cli("predict", "eta@latest", "--input", "keys.parquet", "--output", "again.csv")
    assert shown.exit_code == 0, shown.output
    assert "the newest, as of" in shown.stdout  # no --as-of, no times in the rows
    assert "eta v1" in shown.stdout
    assert pd.read_csv(tmp_path / "again.csv")["prediction"].tolist() == pytest.approx(
        [eta(5, 0.75), eta(2, 0.25), eta(2, 0.25)]
    )


def test_a_failing_predict_job_is_one_line(
    cli: Invoke, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    failed = cli(
        "predict", "eta@latest", "--entities", "SELECT * FROM nowhere", "--output", "o.parquet"
    )
    # The job's log first (streamed on standard error), then the reason as the last line.
    assert failed.exit_code == 1, failed.output
    assert failed.stdout == ""
    assert "Traceback" not in failed.output
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: predict job "), failed.stderr
    assert "FAILED: the entity rows query failed: Catalog Error" in last
    assert not (tmp_path / "o.parquet").exists()


def test_without_output_the_rows_are_predicted_here_and_printed(
    cli: Invoke, cli_json: Callable[..., Any], project: Path, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    pd.DataFrame(
        {"driver_id": [1, 1], "event_timestamp": [at("2026-01-15"), at("2026-02-15")]}
    ).to_csv(rows, index=False)
    printed = cli_json("predict", "eta@latest", "--entities", str(rows))
    assert [round(r["prediction"], 6) for r in printed] == [eta(1, 0.5), eta(2, 0.25)]
    assert {r["model_version"] for r in printed} == {1}
    with Client(settings=load_settings()) as client:
        assert client.list_jobs() == []  # a preview is not a job
    table = cli("predict", "eta@latest", "--entities", str(rows))
    assert table.exit_code == 0, table.output
    assert "20.25" in table.stdout


def test_mistakes_are_one_line_errors(cli: Invoke, project: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    pd.DataFrame({"driver_id": [1]}).to_csv(rows, index=False)
    ref = "eta@latest"
    for args, fragment in [
        (("--entities", str(tmp_path / "rows.xlsx")), ".parquet, .csv, .json or .jsonl file"),
        (("--entities", str(tmp_path / "gone.csv")), "no such file"),
        (("--entities", str(rows), "--as-of", "yesterday"), "as_of 'yesterday' is not an ISO"),
        (("--entities", str(rows), "--output", str(tmp_path / "o.txt")), "write a .parquet"),
    ]:
        assert_one_line_error(cli("predict", ref, *args), fragment)
    assert cli("predict", ref).exit_code == 2
    assert cli("predict", ref, "--entities", str(rows), "--input", str(rows)).exit_code == 2
    assert cli("predict", ref, "--entities", str(rows), "--backend", "ray").exit_code == 2
    assert cli("predict", ref, "--entities", str(rows), "--chunk-size", "0").exit_code == 2
