"""Batch predictions in this process, on the embedded store: which features each row gets
(point-in-time, as of one time, the newest), chunked writing, and the errors a user meets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
from predictfixtures import at, eta, make_project
from sklearn.linear_model import LinearRegression

from griffin.client import Client
from griffin.errors import InvalidArgument
from griffin.training.batch_inputs import check_entities, parse_as_of, read_entities
from griffin.training.batch_output import check_output
from griffin.training.batch_predict import (
    BatchRequest,
    parse_progress,
    predict_rows,
    predict_to_file,
    progress_printer,
)


@pytest.fixture
def client() -> Iterator[Client]:
    with Client() as opened:
        yield opened


@pytest.fixture
def project(client: Client, tmp_path: Path) -> Path:
    make_project(client, tmp_path / "project")
    return tmp_path / "project"


def test_rows_get_features_as_of_their_own_time_chunk_by_chunk(
    client: Client, project: Path, tmp_path: Path
) -> None:
    rows = pd.DataFrame(
        {
            "driver_id": [1, 1, 2, 2, 1],
            "event_timestamp": [
                at("2026-01-15"),
                at("2026-02-15"),
                at("2026-01-15"),
                at("2026-03-01"),
                at("2026-01-31"),
            ],
            "note": list("abcde"),
        }
    )
    rows.to_parquet(tmp_path / "rows.parquet", index=False)
    out = tmp_path / "out" / "scored.parquet"
    seen: list[tuple[int, int]] = []
    result = predict_to_file(
        client,
        BatchRequest("eta@latest", str(tmp_path / "rows.parquet"), chunk_size=2),
        out,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert (result.model, result.version, result.rows) == ("eta", 1, 5)
    assert (result.features, result.as_of, result.rows_without_features) == (
        "point-in-time",
        None,
        0,
    )
    scored = pd.read_parquet(out)
    assert list(scored.columns) == [
        "driver_id",
        "event_timestamp",
        "note",
        "prediction",
        "model_version",
    ]
    assert scored["prediction"].tolist() == pytest.approx(
        [eta(1, 0.5), eta(2, 0.25), eta(5, 0.75), eta(5, 0.75), eta(1, 0.5)]
    )
    # The rows come back as they went in: order, times and other columns untouched.
    assert scored["note"].tolist() == list("abcde")
    assert scored["event_timestamp"].tolist() == rows["event_timestamp"].tolist()
    assert scored["model_version"].tolist() == [1] * 5
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]
    written = pq.ParquetFile(out)
    assert written.num_row_groups == 3  # appended a chunk at a time
    recorded = orjson.loads(written.schema_arrow.metadata[b"griffin.predict"])
    assert (recorded["model"], recorded["version"], recorded["features"]) == (
        "eta",
        1,
        "point-in-time",
    )
    assert [p.name for p in out.parent.iterdir()] == ["scored.parquet"]
    # A scored file scored again: its prediction columns are replaced, not doubled.
    predict_to_file(client, BatchRequest("eta/1", str(out)), tmp_path / "again.parquet")
    again = pd.read_parquet(tmp_path / "again.parquet")
    assert list(again.columns) == list(scored.columns)
    assert again["prediction"].tolist() == pytest.approx(scored["prediction"].tolist())


def test_as_of_is_one_time_for_every_row_even_over_their_own(
    client: Client, project: Path, tmp_path: Path
) -> None:
    pd.DataFrame({"driver_id": [2, 1]}).to_csv(tmp_path / "rows.csv", index=False)
    result, table = predict_rows(
        client, BatchRequest("eta@latest", str(tmp_path / "rows.csv"), as_of=at("2026-01-20"))
    )
    assert table["prediction"].to_pylist() == pytest.approx([eta(5, 0.75), eta(1, 0.5)])
    assert (result.features, result.as_of) == ("as-of", at("2026-01-20"))
    # Rows with their own (later) times, as ISO text in a JSON Lines file: --as-of wins.
    (tmp_path / "rows.jsonl").write_text(
        '{"driver_id": 1, "event_timestamp": "2026-03-01T00:00:00Z"}\n'
    )
    request = BatchRequest("eta@latest", str(tmp_path / "rows.jsonl"))
    _, own = predict_rows(client, request)
    assert own["prediction"].to_pylist() == pytest.approx([eta(2, 0.25)])
    moment = parse_as_of("2026-01-20T01:00:00+01:00")  # 00:00 UTC
    _, fixed = predict_rows(
        client, BatchRequest("eta@latest", str(tmp_path / "rows.jsonl"), as_of=moment)
    )
    assert fixed["prediction"].to_pylist() == pytest.approx([eta(1, 0.5)])
    assert own["event_timestamp"].to_pylist() == fixed["event_timestamp"].to_pylist()


def test_without_a_time_the_features_are_the_newest_and_the_moment_is_recorded(
    client: Client, project: Path
) -> None:
    before = datetime.now(UTC)
    result, table = predict_rows(
        client, BatchRequest("eta@latest", "SELECT 1 AS driver_id UNION ALL SELECT 2 ORDER BY 1")
    )
    assert table.column_names == ["driver_id", "prediction", "model_version"]
    assert table["prediction"].to_pylist() == pytest.approx([eta(2, 0.25), eta(5, 0.75)])
    assert result.features == "latest"
    assert result.as_of is not None
    assert before <= result.as_of <= datetime.now(UTC)


def test_online_features_are_what_the_online_store_serves(
    client: Client, project: Path, tmp_path: Path
) -> None:
    client.materialize(["driver_stats"])
    pd.DataFrame({"driver_id": [2, 1, 2], "note": ["x", "y", "z"]}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    request = BatchRequest(
        "eta@latest", str(tmp_path / "rows.csv"), chunk_size=2, online_features=True
    )
    result, table = predict_rows(client, request)
    assert (result.features, result.as_of) == ("online", None)
    assert table.column_names == ["driver_id", "note", "prediction", "model_version"]
    assert table["prediction"].to_pylist() == pytest.approx(
        [eta(5, 0.75), eta(2, 0.25), eta(5, 0.75)]
    )


def test_rows_that_hold_the_inputs_need_no_features(client: Client, tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": np.arange(10.0)})
    client.log_model(
        LinearRegression().fit(frame, 2 * frame["x"]), "double", input_example=frame.head(2)
    )
    (tmp_path / "rows.json").write_text('[{"id": "a", "x": 1.0}, {"id": "b", "x": 2.0}]')
    for suffix in (".csv", ".jsonl"):
        out = tmp_path / f"scored{suffix}"
        result = predict_to_file(
            client, BatchRequest("double@latest", str(tmp_path / "rows.json"), chunk_size=1), out
        )
        assert (result.features, result.rows) == ("given", 2)
        scored = pd.read_csv(out) if suffix == ".csv" else pd.read_json(out, lines=True)
        assert scored["id"].tolist() == ["a", "b"]
        assert scored["prediction"].tolist() == pytest.approx([2.0, 4.0])
        assert scored["model_version"].tolist() == [1, 1]
    (tmp_path / "keys.csv").write_text("id\na\n")
    with pytest.raises(InvalidArgument, match="not trained on a feature service") as info:
        predict_rows(client, BatchRequest("double@latest", str(tmp_path / "keys.csv")))
    assert info.value.details == {"field": "entities", "missing": ["x"]}


def test_bad_requests_name_the_field(client: Client, project: Path, tmp_path: Path) -> None:
    pd.DataFrame({"driver_id": [1]}).to_csv(tmp_path / "rows.csv", index=False)
    pd.DataFrame({"customer_id": [1]}).to_csv(tmp_path / "customers.csv", index=False)
    rows, customers = str(tmp_path / "rows.csv"), str(tmp_path / "customers.csv")
    cases = [
        (lambda: check_entities(str(tmp_path / "rows.txt")), "entities", ".parquet, .csv"),
        (lambda: check_entities(str(tmp_path / "gone.parquet")), "entities", "no such file"),
        (lambda: read_entities("SELECT * FROM no_such_table"), "entities", "query failed"),
        (lambda: parse_as_of("last tuesday"), "as_of", "not an ISO 8601 time"),
        (lambda: check_output(tmp_path / "out.xlsx"), "output", ".parquet, .csv or .jsonl"),
        (lambda: BatchRequest("eta@latest", rows, chunk_size=0), "chunk_size", "1 or more"),
        (
            lambda: predict_rows(client, BatchRequest("eta@latest", customers)),
            "entities",
            "no join key column 'driver_id' of feature service 'eta'",
        ),
        (
            lambda: predict_rows(client, BatchRequest("eta@latest", rows, online_features=False)),
            "entities",
            "lack the input column(s) trips, rating",
        ),
        (
            lambda: predict_rows(
                client,
                BatchRequest("eta@latest", rows, as_of=at("2026-01-01"), online_features=True),
            ),
            "as_of",
            "online store holds only the newest values",
        ),
        (
            lambda: predict_to_file(
                client, BatchRequest("eta@latest", "SELEC 1"), tmp_path / "o.parquet"
            ),
            "entities",
            "or a SQL query",
        ),
    ]
    for call, field, fragment in cases:
        with pytest.raises(InvalidArgument, match=re.escape(fragment)) as info:
            call()
        assert info.value.details["field"] == field, fragment
    assert not (tmp_path / "o.parquet").exists()


def test_a_failed_run_leaves_the_output_as_it_was(
    client: Client, project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scored.parquet"
    out.write_bytes(b"yesterday's predictions")
    pd.DataFrame(
        {"driver_id": [1, 1], "event_timestamp": [at("2026-01-15"), at("2025-06-01")]}
    ).to_parquet(tmp_path / "rows.parquet", index=False)
    request = BatchRequest("eta@latest", str(tmp_path / "rows.parquet"), chunk_size=1)
    # The second row is older than any feature row: no features, which the model cannot take.
    with pytest.raises(InvalidArgument, match="predict failed on rows 1 to 1") as info:
        predict_to_file(client, request, out)
    assert "1 rows had no fresh feature value at their rows' event times" in info.value.message
    assert out.read_bytes() == b"yesterday's predictions"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_progress_lines_are_what_the_cli_draws(capsys: pytest.CaptureFixture[str]) -> None:
    report = progress_printer(every_s=3600)
    for done in (0, 10, 20, 30):
        report(done, 30)
    lines = capsys.readouterr().out.splitlines()
    assert [parse_progress(line) for line in lines] == [(0, 30), (30, 30)]
    assert parse_progress("griffin: wrote 30 predictions") is None


ON_DEMAND_PY = """
import pandas as pd

from griffin.features import on_demand_feature_view


@on_demand_feature_view(sources=[stats], features=[Feature("trips10", "float64")])
def tens(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"trips10": df["trips"] * 10.0})


eta_tens = FeatureService("eta_tens", [stats[["rating"]], tens])
"""


def test_on_demand_views_run_the_code_of_the_versions_package(
    client: Client, project: Path, tmp_path: Path
) -> None:
    from griffin.training.packages import build_package

    features = project / "features.py"
    features.write_text(features.read_text() + ON_DEMAND_PY)
    client.apply_features(features)
    digest = client.upload_package(build_package(project, tmp_path / "package").path)
    train = pd.DataFrame({"trips10": [0.0, 10.0, 20.0, 50.0], "rating": [0.0, 0.5, 0.25, 0.75]})
    model = LinearRegression().fit(train, train["trips10"] + train["rating"])
    for lineage in (
        {"feature_service": "eta_tens"},
        {"feature_service": "eta_tens", "code_digest": digest},
    ):
        client.log_model(model, "tens", input_example=train.head(2), lineage=lineage)
    request = "SELECT 1 AS driver_id UNION ALL SELECT 2 ORDER BY 1"
    _, table = predict_rows(client, BatchRequest("tens/2", request, as_of=at("2026-03-01")))
    assert table["prediction"].to_pylist() == pytest.approx([eta(2, 0.25), eta(5, 0.75)])
    with pytest.raises(Exception, match="tens"):  # no package: the registry has no function
        predict_rows(client, BatchRequest("tens/1", request, as_of=at("2026-03-01")))
    client.materialize(["driver_stats"])  # and online, in the SDK, from the same package
    online = client.predict("tens/2", pd.DataFrame({"driver_id": [1, 2]}))
    assert online["prediction"].tolist() == pytest.approx([eta(2, 0.25), eta(5, 0.75)])
    _, table = predict_rows(client, BatchRequest("tens/2", request, online_features=True))
    assert table["prediction"].to_pylist() == pytest.approx([eta(2, 0.25), eta(5, 0.75)])
