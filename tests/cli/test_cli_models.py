"""`griffin models` (registry commands) on the embedded store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from cli_helpers import Invoke, assert_one_line_error
from sklearn.linear_model import LinearRegression

from griffin.client import Client


def _register_two() -> None:
    frame = pd.DataFrame({"x": np.arange(10.0)})
    model = LinearRegression().fit(frame, frame["x"] * 2)
    with Client() as client:
        client.log_model(
            model,
            "eta",
            input_example=frame.head(2),
            metrics={"rmse": 0.5},
            lineage={"features": [{"view": "driver", "version": 2}], "git_commit": "abc123"},
        )
        client.log_model(model, "eta", metrics={"rmse": 2.0})


def test_list_show_versions_and_version(cli: Invoke, cli_json: Callable[..., Any]) -> None:
    _register_two()
    listed = cli("models", "list")
    assert listed.exit_code == 0
    assert "eta" in listed.stdout
    assert [m["name"] for m in cli_json("models", "list")] == ["eta"]
    shown = cli_json("models", "show", "eta")
    assert shown["model"]["latest_version"] == 2
    assert [v["version"] for v in shown["versions"]] == [2, 1]
    assert [v["version"] for v in cli_json("models", "versions", "eta")] == [2, 1]
    one = cli("models", "version", "eta/1")
    assert one.exit_code == 0, one.output
    assert "abc123" in one.stdout
    assert "x:float64" in one.stdout
    lineage = cli_json("models", "lineage", "eta/1")
    assert lineage["git_commit"] == "abc123"
    uses = cli_json("models", "lineage", "--feature-view", "driver")
    assert uses == [{"model": "eta", "version": 1, "view": "driver", "view_version": 2}]


def test_promote_alias_and_history(cli: Invoke, cli_json: Callable[..., Any]) -> None:
    _register_two()
    refused = cli("models", "promote", "eta", "2", "--alias", "champion", "--require", "rmse<1")
    assert_one_line_error(refused, "rmse<1: rmse is 2")
    done = cli("models", "promote", "eta", "1", "--require", "rmse<1")
    assert done.exit_code == 0, done.output
    assert "eta@champion → version 1" in done.stderr + done.stdout
    moved = cli_json("models", "alias", "set", "eta", "champion", "2")
    assert (moved["from_version"], moved["to_version"]) == (1, 2)
    assert cli_json("models", "version", "eta@champion")["version"] == 2
    assert cli_json("models", "alias", "delete", "eta", "champion")["to_version"] is None
    history = cli_json("models", "alias", "history", "eta")
    assert [h["action"] for h in history] == ["deleted", "moved", "set"]
    assert_one_line_error(cli("models", "alias", "set", "eta", "my alias", "1"), "invalid alias")
    assert_one_line_error(cli("models", "version", "eta@champion"), "has no alias 'champion'")


def test_download_writes_a_verified_model_folder(
    cli: Invoke, cli_json: Callable[..., Any], tmp_path: Path
) -> None:
    _register_two()
    out = cli_json("models", "download", "eta@latest", "--dest", str(tmp_path / "m"))
    assert Path(out["path"], "griffin-model.json").is_file()
    assert_one_line_error(cli("models", "download", "eta"), "invalid model reference")
    bad = cli("models", "lineage")
    assert bad.exit_code == 2


def test_predict_reads_a_file_and_writes_predictions(
    cli: Invoke, cli_json: Callable[..., Any], tmp_path: Path
) -> None:
    _register_two()
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "rows.csv", index=False)
    printed = cli_json("predict", "eta/1", "--input", str(tmp_path / "rows.csv"))
    assert [round(r["prediction"], 6) for r in printed] == [2.0, 4.0]
    out = tmp_path / "out.parquet"
    written = cli_json(
        "predict", "eta/1", "--input", str(tmp_path / "rows.csv"), "--output", str(out)
    )
    assert written["rows"] == 2
    assert list(pd.read_parquet(out)["prediction"].round(6)) == [2.0, 4.0]
    assert_one_line_error(
        cli("predict", "eta/1", "--input", str(tmp_path / "rows.txt")), ".parquet"
    )


def test_evaluate_and_predict_as_local_jobs(
    cli: Invoke, cli_json: Callable[..., Any], tmp_path: Path
) -> None:
    """`--backend local`: the work runs in a job's own process, through the dispatcher."""
    from griffin.features.training import TrainingSet

    _register_two()
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.5]})
    import pyarrow as pa

    from griffin.domain.datasets import Lineage as DatasetLineage

    with Client() as client:
        client.save_dataset("holdout", TrainingSet(pa.Table.from_pandas(frame), DatasetLineage()))
    evaluated = cli_json(
        "evaluate", "eta/1", "--dataset", "holdout", "--target", "y", "--backend", "local"
    )
    assert evaluated["version"] == 1
    assert set(evaluated["metrics"]) == {"rmse", "mae", "r2"}
    with Client() as client:
        assert client.resolve_model("eta/1").metrics["rmse"] == evaluated["metrics"]["rmse"]
    frame[["x"]].to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "scored.jsonl"
    done = cli_json(
        "predict",
        "eta/1",
        "--input",
        str(tmp_path / "rows.csv"),
        "--output",
        str(out),
        "--backend",
        "local",
    )
    assert done["rows"] == 3
    assert list(pd.read_json(out, lines=True)["prediction"].round(6)) == [2.0, 4.0, 6.0]
    assert (
        cli(
            "predict", "eta/1", "--input", str(tmp_path / "rows.csv"), "--backend", "local"
        ).exit_code
        == 2
    )
