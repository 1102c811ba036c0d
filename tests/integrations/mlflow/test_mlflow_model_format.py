"""MLflow's model format both ways, on local folders: an MLflow model loads and predicts through
Griffin, a Griffin model through ``mlflow.pyfunc``, and hostile ``MLmodel`` texts are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mlflow")
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc.model import PythonModel
from mlflow.types import ColSpec, DataType, Schema, TensorSpec
from sklearn.linear_model import LogisticRegression

from griffin.errors import InvalidArgument, NotSupported
from griffin.integrations.mlflow import model_format
from griffin.integrations.mlflow.model_format import (
    MAX_MLMODEL_BYTES,
    griffin_signature,
    mlflow_signature,
    read_mlmodel,
)
from griffin.registry.flavors import (
    METADATA_FILE,
    MLMODEL_FILE,
    is_model_folder,
    load_model,
    read_metadata,
    save_model,
    verify_files,
)
from griffin.registry.signature import Signature


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"x": rng.normal(size=40), "n": rng.integers(0, 10, size=40)})
    y = (x["x"] + 0.1 * x["n"] > 0.4).astype(int).to_numpy()
    return x, y


@pytest.fixture(scope="module")
def classifier(data: tuple[pd.DataFrame, np.ndarray[Any, Any]]) -> LogisticRegression:
    x, y = data
    return LogisticRegression().fit(x, y)


@pytest.fixture(scope="module")
def mlflow_folder(tmp_path_factory: pytest.TempPathFactory, classifier: LogisticRegression) -> Path:
    """An sklearn model in MLflow's format, as ``mlflow.sklearn.log_model`` writes it."""
    folder = tmp_path_factory.mktemp("mlflow") / "model"
    signature = ModelSignature(
        inputs=Schema([ColSpec(DataType.double, "x"), ColSpec(DataType.long, "n")]),
        outputs=Schema([TensorSpec(np.dtype("int64"), (-1,))]),
    )
    mlflow.sklearn.save_model(
        classifier,
        str(folder),
        signature=signature,
        # cloudpickle: skops (the default) is not installed; no requirements: inferring them
        # imports the model in a subprocess, seconds this test does not need.
        serialization_format="cloudpickle",
        pip_requirements=[],
    )
    return folder


@pytest.fixture(scope="module")
def griffin_folder(
    tmp_path_factory: pytest.TempPathFactory,
    classifier: LogisticRegression,
    data: tuple[pd.DataFrame, np.ndarray[Any, Any]],
) -> Path:
    folder = tmp_path_factory.mktemp("griffin") / "model"
    save_model(classifier, folder, input_example=data[0].head(5))
    return folder


# ------------------------------------------------------------------ MLflow model -> Griffin
def test_mlflow_model_loads_and_predicts_through_griffin(
    mlflow_folder: Path, classifier: LogisticRegression, data: tuple[pd.DataFrame, Any]
) -> None:
    x, _ = data
    assert is_model_folder(mlflow_folder)
    assert not (mlflow_folder / METADATA_FILE).exists()
    loaded = load_model(mlflow_folder)
    assert loaded.flavor == "mlflow"
    assert loaded.signature == Signature([("x", "float64"), ("n", "int64")])
    np.testing.assert_array_equal(loaded.predict(x), classifier.predict(x))
    # Extra columns are dropped and columns reordered by the signature, as for any flavor.
    shuffled = x[["n", "x"]].assign(extra="ignored")
    np.testing.assert_array_equal(loaded.predict(shuffled), classifier.predict(x))
    np.testing.assert_allclose(loaded.predict_proba(x), classifier.predict_proba(x))
    assert loaded.classes == [0, 1]
    rows = x.head(2).to_dict(orient="records")
    np.testing.assert_array_equal(loaded.predict(rows), classifier.predict(x.head(2)))


def test_mlflow_model_metadata_is_synthesized(mlflow_folder: Path) -> None:
    metadata = read_metadata(mlflow_folder)
    assert metadata["flavor"] == "mlflow"
    assert metadata["flavor_library_version"] == mlflow.__version__
    assert metadata["signature"] == {
        "inputs": [{"name": "x", "type": "float64"}, {"name": "n", "type": "int64"}],
        "outputs": None,
    }
    assert "python_function" in metadata["flavor_options"]["mlflow_flavors"]
    assert "sklearn" in metadata["flavor_options"]["mlflow_flavors"]
    assert verify_files(mlflow_folder) == metadata  # MLflow records no hashes: nothing to fail


def test_mlflow_model_is_refused_without_pickles(mlflow_folder: Path) -> None:
    with pytest.raises(NotSupported, match="pickle"):
        load_model(mlflow_folder, allow_pickle=False)


def test_mlflow_missing_names_the_extra(
    mlflow_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.pyfunc", None)
    with pytest.raises(NotSupported, match=r"pip install 'griffin-ml\[mlflow\]'"):
        load_model(mlflow_folder)


def test_mlflow_model_without_pyfunc_is_not_supported(tmp_path: Path) -> None:
    (tmp_path / MLMODEL_FILE).write_text("flavors:\n  spark:\n    model_data: sparkml\n")
    with pytest.raises(NotSupported, match="no python_function flavor"):
        load_model(tmp_path)


def test_griffin_signature_of_mlflow_sklearn_model(mlflow_folder: Path) -> None:
    text = (mlflow_folder / MLMODEL_FILE).read_text()
    assert griffin_signature(text) == {
        "inputs": [{"name": "x", "type": "float64"}, {"name": "n", "type": "int64"}],
        "outputs": None,  # an unnamed tensor output: no column names to give
    }
    document = read_mlmodel(text)
    assert set(model_format.mlmodel_flavors(document)) == {"python_function", "sklearn"}
    assert model_format.mlmodel_run_id(document) is None  # saved, not logged under a run


class YearModel(PythonModel):
    """Returns the year of ``t``: MLflow refuses timezone-aware datetimes, Griffin makes them."""

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        assert model_input["t"].dt.tz is None
        return model_input["t"].dt.year.to_numpy() + model_input["x"].to_numpy()


@pytest.mark.filterwarnings("ignore:.*An input example was not provided")
def test_mlflow_datetime_columns_reach_the_model_naive(tmp_path: Path) -> None:
    signature = ModelSignature(
        inputs=Schema([ColSpec(DataType.datetime, "t"), ColSpec(DataType.double, "x")])
    )
    mlflow.pyfunc.save_model(
        str(tmp_path / "m"), python_model=YearModel(), signature=signature, pip_requirements=[]
    )
    loaded = load_model(tmp_path / "m")
    assert loaded.signature == Signature([("t", "timestamp"), ("x", "float64")])
    times = ["2024-12-31T23:30:00-02:00", "2021-01-01T00:00:00Z"]
    out = loaded.predict({"t": times, "x": [0.0, 0.5]})
    np.testing.assert_array_equal(out, [2025.0, 2021.5])  # -02:00 is the next year in UTC


# ------------------------------------------------------------------ Griffin model -> MLflow
def test_griffin_model_writes_a_valid_mlmodel(griffin_folder: Path) -> None:
    metadata = verify_files(griffin_folder)
    # The MLmodel is one of the hashed files, so the folder still verifies whole.
    assert MLMODEL_FILE in [f["path"] for f in metadata["files"]]
    meta = Model.load(str(griffin_folder))
    pyfunc = meta.flavors["python_function"]
    assert pyfunc["loader_module"] == "griffin.integrations.mlflow.pyfunc"
    assert pyfunc["python_version"] == metadata["python_version"]
    assert meta.flavors["griffin"]["flavor"] == "sklearn"
    assert meta.signature.inputs == Schema(
        [ColSpec(DataType.double, "x"), ColSpec(DataType.long, "n")]
    )
    assert meta.utc_time_created
    assert meta.model_uuid
    # Griffin still reads its own metadata, not the MLmodel, for its own models.
    assert read_metadata(griffin_folder)["flavor"] == "sklearn"


def test_griffin_model_loads_through_mlflow_pyfunc(
    griffin_folder: Path, data: tuple[pd.DataFrame, Any]
) -> None:
    x, _ = data
    via_mlflow = mlflow.pyfunc.load_model(str(griffin_folder))
    via_griffin = load_model(griffin_folder)
    np.testing.assert_array_equal(via_mlflow.predict(x), via_griffin.predict(x))
    assert via_mlflow.get_raw_model().flavor == "sklearn"


def test_griffin_model_without_signature_loads_through_mlflow(
    tmp_path: Path, classifier: LogisticRegression, data: tuple[pd.DataFrame, Any]
) -> None:
    x, _ = data
    saved = save_model(classifier, tmp_path / "m")
    assert saved.signature is None
    assert Model.load(str(saved.folder)).signature is None
    via_mlflow = mlflow.pyfunc.load_model(str(saved.folder))
    np.testing.assert_array_equal(via_mlflow.predict(x), classifier.predict(x))


def test_loader_module_imports_in_a_fresh_interpreter() -> None:
    """What ``mlflow.pyfunc.load_model`` does first in a user's process, where nothing of
    Griffin is imported yet: import the ``loader_module`` the ``MLmodel`` names. (Only the
    import runs in the subprocess: importing all of mlflow there would cost seconds.)"""
    script = (
        f"import importlib, sys; importlib.import_module({model_format.LOADER_MODULE!r})\n"
        # Griffin's side imports nothing of MLflow (nor the server) until a model loads.
        "assert not [m for m in ('mlflow', 'griffin.server') if m in sys.modules]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]


# ------------------------------------------------------------------ signatures
def test_signature_types_both_ways() -> None:
    griffin = Signature(
        [
            ("b", "bool"),
            ("i", "int32"),
            ("l", "int64"),
            ("f", "float32"),
            ("d", "float64"),
            ("s", "string"),
            ("y", "bytes"),
            ("t", "timestamp"),
        ],
        outputs=[("p", "float64"), ("q", "float64")],
    ).to_json()
    mlflow_form = mlflow_signature(griffin)
    # MLflow's own parser reads it, with MLflow's type names.
    parsed = ModelSignature.from_dict(mlflow_form)
    assert [c.type for c in parsed.inputs.inputs] == [
        DataType.boolean,
        DataType.integer,
        DataType.long,
        DataType.float,
        DataType.double,
        DataType.string,
        DataType.binary,
        DataType.datetime,
    ]
    text = f"flavors: {{}}\nsignature: {json.dumps(mlflow_form)}\n"
    assert griffin_signature(text) == griffin


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        # Named one-value-per-row tensors are columns.
        (
            [
                {"type": "tensor", "name": "a", "tensor-spec": {"dtype": "float32", "shape": [-1]}},
                {"type": "tensor", "name": "b", "tensor-spec": {"dtype": "uint8", "shape": [-1]}},
            ],
            [{"name": "a", "type": "float32"}, {"name": "b", "type": "int32"}],
        ),
        # An unnamed matrix (a model trained on a numpy array) has no columns to name.
        ([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}], None),
        (
            [
                {
                    "type": "tensor",
                    "name": "img",
                    "tensor-spec": {"dtype": "uint8", "shape": [-1, 28, 28]},
                }
            ],
            None,
        ),
        ([{"type": "string", "required": True}], None),  # unnamed column
        ([{"type": "array", "items": {"type": "double"}, "name": "v"}], None),
        ([{"type": "double", "name": "a"}, {"type": "double", "name": "a"}], None),
        ("not json", None),
        ([], None),
    ],
)
def test_signature_inputs_griffin_cannot_express(inputs: Any, expected: Any) -> None:
    text = json.dumps({"signature": {"inputs": json.dumps(inputs), "outputs": None}})
    got = griffin_signature(text)  # JSON is YAML
    assert (got and got["inputs"]) == expected


def test_no_signature_is_none() -> None:
    assert griffin_signature("flavors:\n  python_function: {loader_module: x}\n") is None


# ------------------------------------------------------------------ hostile MLmodel texts
def test_python_object_tags_are_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    hostile = [
        f"flavors: !!python/object/apply:os.system ['touch {marker}']\n",
        f"signature: !!python/object/apply:subprocess.check_call [['touch', '{marker}']]\n",
        "flavors: !!python/name:os.system\n",
        "flavors: !!python/object/new:collections.OrderedDict [[]]\n",
    ]
    for text in hostile:
        with pytest.raises(InvalidArgument, match="not valid YAML"):
            read_mlmodel(text)
        with pytest.raises(InvalidArgument):
            griffin_signature(text)
    # Through a model folder too: loading it refuses the file before anything imports mlflow.
    (tmp_path / MLMODEL_FILE).write_text(hostile[0])
    with pytest.raises(InvalidArgument, match="not valid YAML"):
        load_model(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "text",
    [
        "- python_function\n- sklearn\n",
        "just a string\n",
        "",
        "42\n",
        "flavors: [python_function]\n",
        "flavors:\n  python_function: yes-please\n",
        'signature: \'[{"type": "double"}]\'\n',
        "a: [unclosed\n",
    ],
)
def test_odd_mlmodel_texts_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        read_mlmodel(text)


def test_huge_and_exploding_mlmodel_texts_are_refused(tmp_path: Path) -> None:
    huge = "flavors: {}\npadding: '" + "x" * MAX_MLMODEL_BYTES + "'\n"
    with pytest.raises(InvalidArgument, match="bytes"):
        read_mlmodel(huge)
    (tmp_path / MLMODEL_FILE).write_text(huge)
    with pytest.raises(InvalidArgument, match="larger"):
        read_metadata(tmp_path)
    # "Billion laughs": a few hundred bytes of aliases that expand exponentially.
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    with pytest.raises(InvalidArgument, match="too large"):
        read_mlmodel("\n".join(lines) + "\n")
    # Deep nesting, 1 or 2 bytes a level: refused from the parser's events, before libyaml's
    # recursive composer (which would overflow the C stack and kill the process) sees it.
    for deep in ("a: " + "[" * 1_000_000 + "]" * 1_000_000, "- " * 1_000_000 + "x"):
        with pytest.raises(InvalidArgument, match="nested"):
            read_mlmodel(deep + "\n")
    with pytest.raises(InvalidArgument, match="too large"):
        read_mlmodel("a: &loop [*loop]\n")  # a list that contains itself
    with pytest.raises(InvalidArgument):
        read_mlmodel(b"flavors: {}\n\xff\xfe")
