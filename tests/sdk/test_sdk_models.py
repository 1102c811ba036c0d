"""The model registry through the SDK, on both transports and both databases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sdk_helpers import Connect
from sklearn.linear_model import LogisticRegression

from griffin import Conflict, InvalidArgument, NotFound
from griffin.client import Client
from griffin.domain.registry import Lineage


def _fitted() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60)})
    model = LogisticRegression().fit(frame, (frame["a"] + frame["b"] > 0).astype(int))
    return model, frame


def _register(client: Client, name: str = "eta", **kwargs: object) -> int:
    run = client.create_run("registry")
    model, frame = _fitted()
    version = client.log_model(model, name, run_id=run.id, input_example=frame.head(3), **kwargs)
    client.end_run(run.id)
    return version.version


def test_log_model_registers_versions_in_order_and_loads_back(connect: Connect) -> None:
    client = connect()
    model, frame = _fitted()
    first = client.log_model(
        model,
        "eta",
        input_example=frame.head(3),
        metrics={"auc": 0.91},
        lineage={"dataset": "orders", "dataset_version": 2, "features": [{"view": "driver"}]},
        tags={"team": "eta"},
    )
    second = client.log_model(model, "eta", metrics={"auc": 0.80})
    assert (first.version, second.version) == (1, 2)
    assert first.flavor == "sklearn"
    assert first.metrics == {"auc": 0.91}
    assert first.lineage.dataset == "orders"
    assert first.lineage.features[0].view == "driver"
    assert first.source.startswith("runs:/")
    assert first.source.endswith("/model")
    assert [i["name"] for i in first.signature["inputs"]] == ["a", "b"]
    registered = client.get_registered_model("eta")
    assert registered.latest_version == 2
    assert registered.aliases == {}
    assert [v.version for v in client.list_model_versions("eta")] == [2, 1]

    loaded = client.load_model("eta/1")
    expected = model.predict(frame)
    assert (loaded.predict(frame) == expected).all()
    assert (client.load_model("eta@latest").predict(frame.to_dict("list")) == expected).all()


def test_aliases_set_move_delete_with_history(connect: Connect) -> None:
    client = connect()
    for _ in range(3):
        _register(client)
    set_ = client.set_model_alias("eta", "champion", 1)
    assert (set_.from_version, set_.to_version, set_.changed) == (None, 1, True)
    assert not client.set_model_alias("eta", "champion", 1).changed  # no-op, no event
    moved = client.set_model_alias("eta", "champion", 3)
    assert (moved.from_version, moved.to_version) == (1, 3)
    client.set_model_alias("eta", "challenger", 2)
    assert client.resolve_model("eta@champion").version == 3
    assert client.resolve_model("eta@champion").aliases == ("champion",)
    assert client.get_registered_model("eta").aliases == {"challenger": 2, "champion": 3}
    deleted = client.delete_model_alias("eta", "challenger")
    assert (deleted.from_version, deleted.to_version) == (2, None)

    history = client.model_alias_history("eta")
    assert [(e.alias, e.action, e.from_version, e.to_version) for e in history] == [
        ("challenger", "deleted", 2, None),
        ("challenger", "set", None, 2),
        ("champion", "moved", 1, 3),
        ("champion", "set", None, 1),
    ]
    assert all(e.user for e in history)
    assert len(client.model_alias_history("eta", "champion")) == 2

    with pytest.raises(NotFound, match=r"has no alias 'challenger'.*champion"):
        client.resolve_model("eta@challenger")
    with pytest.raises(NotFound, match="has no version 9"):
        client.resolve_model("eta/9")
    with pytest.raises(NotFound, match="did you mean 'eta'"):
        client.resolve_model("etaa@champion")


def test_resolution_is_revalidated_not_stale(connect: Connect) -> None:
    client, other = connect(), connect()
    _register(client)
    _register(client)
    client.set_model_alias("eta", "champion", 1)
    assert other.resolve_model("eta@champion").version == 1
    assert other.resolve_model("eta@champion").version == 1  # a 304 answered from the cache
    client.set_model_alias("eta", "champion", 2)
    assert other.resolve_model("eta@champion").version == 2


def test_promote_checks_gates_and_refuses_bad_input(connect: Connect) -> None:
    client = connect()
    _register(client, metrics={"auc": 0.83})
    _register(client, metrics={"auc": 0.9})
    with pytest.raises(Conflict, match=r"auc>=0.85: auc is 0.83"):
        client.promote_model("eta", 1, "champion", require=["auc>=0.85"])
    with pytest.raises(Conflict, match="has no metric 'rmse'"):
        client.promote_model("eta", 2, "champion", require=["rmse<3"])
    assert client.get_registered_model("eta").aliases == {}
    change = client.promote_model("eta", 2, "champion", require=["auc>=0.85", "auc<1"])
    assert change.to_version == 2
    with pytest.raises(InvalidArgument, match="alias"):
        client.promote_model("eta", 2, "my champion")
    with pytest.raises(InvalidArgument, match="version of model 'other'"):
        client.promote_model("eta", "other/2", "champion")
    with pytest.raises(InvalidArgument, match="reserved"):
        client.set_model_alias("eta", "latest", 1)
    with pytest.raises(InvalidArgument, match="invalid requirement"):
        client.promote_model("eta", 2, "champion", require=["auc >> 1"])


def test_evaluation_metrics_merge_and_lineage_reverse_lookup(connect: Connect) -> None:
    client = connect()
    lineage = Lineage.from_json(
        {"features": [{"view": "driver", "version": 3}, {"view": "zone"}], "job_id": "j1"}
    )
    _register(client, metrics={"loss": 0.2}, lineage=lineage)
    _register(client, "other", lineage={"features": [{"view": "driver", "version": 4}]})
    updated = client.update_model_version("eta", 1, metrics={"auc": 0.9}, description="eval")
    assert updated.metrics == {"loss": 0.2, "auc": 0.9}
    assert updated.description == "eval"
    uses = client.model_versions_using_view("driver")
    assert [(u["model"], u["version"], u["view_version"]) for u in uses] == [
        ("eta", 1, 3),
        ("other", 1, 4),
    ]
    assert [u["model"] for u in client.model_versions_using_view("driver", view_version=4)] == [
        "other"
    ]
    assert client.model_versions_using_view("zone")[0]["view_version"] == 0
    assert client.resolve_model("eta/1").lineage.job_id == "j1"


def test_registered_model_listing_and_errors(connect: Connect) -> None:
    client = connect()
    client.create_registered_model("b_model", description="B", tags={"k": "v"})
    client.create_registered_model("a_model")
    assert [m.name for m in client.list_registered_models()] == ["a_model", "b_model"]
    assert [m.name for m in client.list_registered_models(prefix="b")] == ["b_model"]
    assert [m.name for m in client.list_registered_models(limit=1)] == ["a_model"]
    updated = client.update_registered_model("b_model", tags={"k": "", "n": "1"})
    assert updated.tags == {"n": "1"}
    with pytest.raises(NotFound, match="no versions yet"):
        client.resolve_model("a_model@latest")
    with pytest.raises(InvalidArgument, match="invalid model name"):
        client.create_registered_model("has space")
    with pytest.raises(InvalidArgument, match="runs:/"):
        client.create_model_version("a_model", "/etc/passwd", "sklearn")
    with pytest.raises(NotFound, match="run nope does not exist"):
        client.create_model_version("a_model", "runs:/nope/model", "sklearn")
    run = client.create_run("x")
    with pytest.raises(InvalidArgument, match="unknown model flavor"):
        client.create_model_version("a_model", f"runs:/{run.id}/model", "pickle")
    with pytest.raises(InvalidArgument, match=r"'\.\.'"):
        client.create_model_version("a_model", f"runs:/{run.id}/../x", "sklearn")


def test_a_model_object_of_no_flavor_registers_nothing(connect: Connect) -> None:
    client = connect()
    with pytest.raises(InvalidArgument, match="has no predict"):
        client.log_model(object(), "eta")
    with pytest.raises(NotFound):
        client.get_registered_model("eta")


def test_evaluate_stores_metrics_then_gates_use_them(connect: Connect) -> None:
    client = connect()
    model, frame = _fitted()
    labelled = frame.assign(label=(frame["a"] + frame["b"] > 0).astype(int))
    client.log_model(model, "eta", input_example=frame.head(3), tags={"griffin.target": "label"})
    client.log_model(model, "eta", input_example=frame.head(3))
    result = client.evaluate_model("eta/1", data=labelled)
    assert result.task == "classification"
    assert set(result.metrics) == {"auc", "log_loss", "accuracy"}
    assert result.rows == 60
    assert result.run_id is not None
    assert client.resolve_model("eta/1").metrics == result.metrics
    assert client.resolve_model("eta/1").tags["griffin.evaluated_on"] == "a DataFrame"
    assert client.get_run(result.run_id).metrics.keys() >= {"auc"}
    client.promote_model("eta", 1, "champion", require=["auc>=0.9"])
    with pytest.raises(InvalidArgument, match="does not record its target"):
        client.evaluate_model("eta/2", data=labelled)
    dry = client.evaluate_model("eta/2", data=labelled, target="label", store=False)
    assert dry.run_id is None
    assert client.resolve_model("eta/2").metrics == {}
    compared = client.compare_models("eta/1", "eta@latest")
    assert compared["metrics"]["auc"]["b"] is None
    assert compared["a"]["version"] == 1


def test_predict_a_batch_keeps_the_rows_and_adds_predictions(connect: Connect) -> None:
    client = connect()
    model, frame = _fitted()
    client.log_model(model, "eta", input_example=frame.head(3))
    rows = frame.head(7).assign(request_id=range(7))
    out = client.predict("eta@latest", rows)
    assert list(out.columns) == ["a", "b", "request_id", "prediction"]
    assert list(out["prediction"]) == list(model.predict(frame.head(7)))
    with pytest.raises(InvalidArgument, match="b"):
        client.predict("eta@latest", frame[["a"]].head(2))
