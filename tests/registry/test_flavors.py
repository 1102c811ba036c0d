"""Model flavors: each library's model saved, loaded back and predicting what the original did."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from griffin.errors import AlreadyExists, InvalidArgument, NotSupported
from griffin.registry import flavors
from griffin.registry.flavors import FLAVORS, detect_flavor, load_model, save_model
from griffin.registry.signature import Signature, from_features, infer_signature

FEATURES = ["x1", "x2", "x3"]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(60, 3)), columns=FEATURES)
    y = (x["x1"] * 2 - x["x2"] + 0.1 * rng.normal(size=60)).to_numpy()
    return x, y


class MeanModel:
    """A pyfunc model: any object with predict()."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.mean(axis=1).to_numpy() + self.offset


class NoPredict:
    pass


def _roundtrip(model: Any, tmp_path: Path, x: pd.DataFrame, **kwargs: Any) -> Any:
    saved = save_model(model, tmp_path / "m", signature=infer_signature(x), **kwargs)
    loaded = load_model(saved.folder)
    assert loaded.flavor == saved.flavor
    assert loaded.signature == saved.signature
    return loaded


def test_sklearn_pipeline(tmp_path: Path, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = data
    model = make_pipeline(StandardScaler(), Ridge()).fit(x, y)
    loaded = _roundtrip(model, tmp_path, x)
    assert loaded.flavor == "sklearn"
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(NotSupported, match="pickle"):
        load_model(tmp_path / "m", allow_pickle=False)


@pytest.mark.parametrize("api", ["sklearn", "booster"])
def test_xgboost(tmp_path: Path, data: tuple[pd.DataFrame, np.ndarray], api: str) -> None:
    import xgboost as xgb

    x, y = data
    if api == "sklearn":
        model: Any = xgb.XGBRegressor(n_estimators=5, max_depth=2).fit(x, y)
        expected = model.predict(x)
    else:
        model = xgb.train({"max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=5)
        expected = model.predict(xgb.DMatrix(x))
    loaded = _roundtrip(model, tmp_path, x)
    assert loaded.flavor == "xgboost"
    assert (tmp_path / "m" / "model.ubj").is_file()
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    # MLmodel: the same folder loads with mlflow.pyfunc (docs/mlflow.md).
    assert names == ["MLmodel", "griffin-model.json", "model.ubj"]
    np.testing.assert_allclose(loaded.predict(x), expected, rtol=1e-6)
    # Native format: the server may load it.
    load_model(tmp_path / "m", allow_pickle=False)


def test_xgboost_classifier_returns_labels(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    import xgboost as xgb

    x, y = data
    labels = (y > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(x, labels)
    loaded = _roundtrip(model, tmp_path, x)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("api", ["regressor", "classifier", "booster"])
def test_lightgbm(tmp_path: Path, data: tuple[pd.DataFrame, np.ndarray], api: str) -> None:
    import lightgbm as lgb

    x, y = data
    params = {"n_estimators": 5, "num_leaves": 4, "min_child_samples": 5, "verbose": -1}
    if api == "regressor":
        model: Any = lgb.LGBMRegressor(**params).fit(x, y)
    elif api == "classifier":
        model = lgb.LGBMClassifier(**params).fit(x, np.where(y > 0, "late", "on_time"))
    else:
        train = lgb.Dataset(x, label=y)
        model = lgb.train({"num_leaves": 4, "verbose": -1}, train, num_boost_round=5)
    loaded = _roundtrip(model, tmp_path, x)
    assert loaded.flavor == "lightgbm"
    assert (tmp_path / "m" / "model.txt").is_file()
    expected = model.predict(x)
    if api == "classifier":
        np.testing.assert_array_equal(loaded.predict(x), expected)
    else:
        np.testing.assert_allclose(loaded.predict(x), expected, rtol=1e-6)


def _torch_models() -> tuple[Any, Any]:
    import torch

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.linear(x))

    class Dynamic(torch.nn.Module):
        """Not scriptable (getattr by a runtime name), so it is traced."""

        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)
            self.which = "linear"

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return getattr(self, self.which)(x)

    torch.manual_seed(0)
    return Net(), Dynamic()


def test_pytorch_scripted(tmp_path: Path, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    import torch

    x, _ = data
    net, _ = _torch_models()
    loaded = _roundtrip(net, tmp_path, x)
    assert loaded.flavor == "pytorch"
    assert loaded.metadata["flavor_options"] == {"torchscript": "script"}
    assert isinstance(loaded.raw, torch.jit.ScriptModule)
    with torch.no_grad():
        expected = net(torch.as_tensor(x.to_numpy(dtype=np.float32, copy=True))).numpy()[:, 0]
    # Columns in any order: predict puts them in signature order before building the tensor.
    np.testing.assert_allclose(loaded.predict(x[["x3", "x1", "x2"]]), expected, rtol=1e-6)


def test_pytorch_traced_multi_output(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    import torch

    x, _ = data
    _, dynamic = _torch_models()
    sig = from_features(
        dict.fromkeys(FEATURES, "float32"), outputs={"a": "float32", "b": "float32"}
    )
    saved = save_model(dynamic, tmp_path / "m", signature=sig)
    assert saved.metadata["flavor_options"] == {"torchscript": "trace"}
    loaded = load_model(tmp_path / "m")
    with torch.no_grad():
        expected = dynamic(torch.as_tensor(x.to_numpy(dtype=np.float32, copy=True))).numpy()
    out = loaded.predict(x)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["a", "b"]
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-6)


def test_pytorch_untraceable_without_example_fails_cleanly(tmp_path: Path) -> None:
    _, dynamic = _torch_models()
    with pytest.raises(InvalidArgument, match="input_example"):
        save_model(dynamic, tmp_path / "m")
    assert not (tmp_path / "m").exists()
    assert list(tmp_path.iterdir()) == []  # the staging folder is gone too


def test_pyfunc_module_level_class(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    x, _ = data
    model = MeanModel(offset=1.5)
    loaded = _roundtrip(model, tmp_path, x)
    assert loaded.flavor == "pyfunc"
    assert loaded.metadata["flavor_options"]["python_class"].endswith("test_flavors.MeanModel")
    assert isinstance(loaded.raw, MeanModel)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x))


def test_predict_inputs_dict_and_records(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    x, _ = data
    save_model(MeanModel(0.0), tmp_path / "m", signature=infer_signature(x))
    loaded = load_model(tmp_path / "m")
    rows = [{"x2": 2.0, "x1": 1.0, "x3": 3, "other": "dropped"}, {"x1": 0, "x2": 0, "x3": 0}]
    np.testing.assert_allclose(loaded.predict(rows), [2.0, 0.0])
    np.testing.assert_allclose(loaded.predict({"x1": 3.0, "x2": 3.0, "x3": 3.0}), [3.0])
    np.testing.assert_allclose(loaded.predict({"x1": [1, 2], "x2": [1, 2], "x3": [1, 2]}), [1, 2])
    with pytest.raises(InvalidArgument, match="'x3'"):
        loaded.predict([{"x1": 1.0, "x2": 2.0}])
    with pytest.raises(InvalidArgument, match="must be"):
        loaded.predict("x1=1")


def test_metadata_json(tmp_path: Path, data: tuple[pd.DataFrame, np.ndarray]) -> None:
    from sklearn.linear_model import LinearRegression

    x, y = data
    saved = save_model(LinearRegression().fit(x, y), tmp_path / "m", input_example=x.head(3))
    meta = json.loads((tmp_path / "m" / "griffin-model.json").read_text())
    assert meta == saved.metadata
    assert meta["format_version"] == 1
    assert meta["flavor"] == "sklearn"
    assert meta["flavor_library"] == "sklearn"
    import sklearn

    assert meta["flavor_library_version"] == sklearn.__version__
    assert meta["python_version"] == ".".join(map(str, sys.version_info[:3]))
    # The signature was inferred from the input example.
    assert Signature.from_json(meta["signature"]).input_names == FEATURES
    # MLmodel is hashed too: a tampered one is caught like a tampered model file.
    assert "MLmodel" in {f["path"] for f in meta["files"]}
    [entry] = [f for f in meta["files"] if f["path"] != "MLmodel"]
    assert entry["path"] == "model.joblib"
    body = (tmp_path / "m" / "model.joblib").read_bytes()
    assert entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert entry["size"] == len(body)


def test_tampered_file_is_refused(tmp_path: Path) -> None:
    save_model(MeanModel(1.0), tmp_path / "m")
    with (tmp_path / "m" / "model.pkl").open("ab") as f:
        f.write(b"junk")
    with pytest.raises(InvalidArgument, match="sha256"):
        load_model(tmp_path / "m")


def test_no_signature_passes_frame_through(tmp_path: Path, data: tuple[pd.DataFrame, Any]) -> None:
    x, _ = data
    saved = save_model(MeanModel(0.0), tmp_path / "m")
    assert saved.signature is None
    np.testing.assert_allclose(load_model(tmp_path / "m").predict(x), MeanModel(0.0).predict(x))


def test_folder_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    save_model(MeanModel(1.0), tmp_path / "m")  # an empty folder is fine
    with pytest.raises(AlreadyExists):
        save_model(MeanModel(1.0), tmp_path / "m")


def test_unknown_object_fails_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="NoPredict") as info:
        save_model(NoPredict(), tmp_path / "m")
    message = str(info.value)
    for name in ("xgboost", "lightgbm", "sklearn", "pytorch", "pyfunc"):
        assert name in message
    assert list(tmp_path.iterdir()) == []


def test_detection_order(data: tuple[pd.DataFrame, np.ndarray]) -> None:
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.linear_model import LinearRegression

    assert [f.name for f in FLAVORS] == ["xgboost", "lightgbm", "sklearn", "pytorch", "pyfunc"]
    net, _ = _torch_models()
    # XGBoost's and LightGBM's sklearn-API models are sklearn estimators: the native flavor wins.
    assert detect_flavor(xgb.XGBRegressor()).name == "xgboost"
    assert detect_flavor(lgb.LGBMRegressor()).name == "lightgbm"
    assert detect_flavor(LinearRegression()).name == "sklearn"
    assert detect_flavor(net).name == "pytorch"
    assert detect_flavor(MeanModel(0.0)).name == "pyfunc"


def test_import_is_lazy() -> None:
    code = (
        "import sys, griffin.registry.flavors, griffin.registry.signature\n"
        "heavy = [m for m in ('torch', 'xgboost', 'lightgbm', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "class P:\n    def predict(self, x): return x\n"
        "assert griffin.registry.flavors.detect_flavor(P()).name == 'pyfunc'\n"
        "heavy = [m for m in ('torch', 'xgboost', 'lightgbm', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flavor_named_unknown() -> None:
    with pytest.raises(NotSupported, match="unknown model flavor"):
        flavors.flavor_named("onnx")
