"""MLflow's ``python_function`` (pyfunc) both ways.

Griffin model -> MLflow: :func:`_load_pyfunc` is the ``loader_module`` of the ``MLmodel`` that
Griffin writes beside its models. ``mlflow.pyfunc.load_model("models:/name@alias")`` on a
Griffin-native version downloads the folder, reads its ``MLmodel`` and calls it with the
folder; predictions go through Griffin's own :func:`~griffin.registry.flavors.load_model`, so
the signature check, file hashes and flavor are Griffin's.

MLflow model -> Griffin: :class:`MLflowFlavor` is Griffin's ``mlflow`` flavor, for a folder
with an ``MLmodel`` and no ``griffin-model.json`` (a version registered through MLflow's API);
it loads and calls the model with ``mlflow.pyfunc``.

Nothing of MLflow is imported until an MLflow model is loaded.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pandas as pd

from griffin.errors import NotFound, NotSupported
from griffin.registry.flavors import METADATA_FILE, Flavor, LoadedModel, Options, load_model
from griffin.registry.signature import Signature

__all__ = ["GriffinPyfuncModel", "MLflowFlavor"]


# ------------------------------------------------------------------ Griffin model -> MLflow
class GriffinPyfuncModel:
    """What MLflow's ``PyFuncModel`` wraps: a loaded Griffin model behind pyfunc's ``predict``."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Griffin's ``predict`` on ``data`` (a DataFrame, dict of columns, row dicts or 2-D
        array); ``params`` are accepted for pyfunc's interface, and Griffin models take none."""
        return self.model.predict(data)

    def get_raw_model(self) -> LoadedModel:
        """The Griffin model (``PyFuncModel.get_raw_model()`` returns it)."""
        return self.model


def _model_folder(path: str) -> Path:
    """The folder holding ``griffin-model.json``: MLflow passes the model folder itself (the
    ``MLmodel`` Griffin writes has no ``data`` key), or a path inside it if one is added."""
    start = Path(path)
    for candidate in (start, start.parent):
        if (candidate / METADATA_FILE).is_file():
            return candidate
    raise NotFound(
        f"{path}: no {METADATA_FILE} here; this MLmodel names Griffin's loader, but the "
        "folder is not a Griffin model"
    )


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> GriffinPyfuncModel:
    """Called by ``mlflow.pyfunc.load_model``; ``model_config`` is unused (Griffin models
    have no load-time settings). Loads client side, pickled flavors included, as MLflow does."""
    return GriffinPyfuncModel(load_model(_model_folder(path)))


# ------------------------------------------------------------------ MLflow model -> Griffin
def _mlflow_pyfunc() -> Any:
    """``mlflow.pyfunc``, imported only when an MLflow model is loaded."""
    try:
        return importlib.import_module("mlflow.pyfunc")
    except ImportError as exc:
        raise NotSupported(
            "loading an MLflow-format model needs MLflow's client: "
            "pip install 'griffin-ml[mlflow]'",
            details={"extra": "mlflow"},
        ) from exc


class MLflowFlavor(Flavor):
    """A model in MLflow's format (an ``MLmodel`` folder), loaded and called with
    ``mlflow.pyfunc``.

    Never chosen to save a model: Griffin saves in its own formats (with an ``MLmodel`` beside
    them). Counted as a pickle flavor: most MLflow flavors unpickle, and any may run the code
    its ``MLmodel`` names, so the server never loads one.
    """

    name = "mlflow"
    library = "mlflow"
    uses_pickle = True

    def matches(self, model: Any) -> bool:
        return False

    def save(
        self, model: Any, folder: Path, *, signature: Signature | None, example: pd.DataFrame | None
    ) -> Options:
        raise NotSupported("Griffin does not save models in MLflow's format; use mlflow's own")

    def load(self, folder: Path, options: Options) -> Any:
        flavors = options.get("mlflow_flavors") or []
        if "python_function" not in flavors:
            raise NotSupported(
                f"{folder}: this MLflow model has no python_function flavor (it has "
                f"{', '.join(map(str, flavors)) or 'none'}); Griffin loads MLflow models "
                "through mlflow.pyfunc"
            )
        return _mlflow_pyfunc().load_model(str(folder))

    def predict(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        return loaded.predict(_naive_utc(frame))

    def predict_proba(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        raw = self.raw_model(loaded)
        method = getattr(raw, "predict_proba", None)
        if not callable(method):
            raise NotSupported("this MLflow model gives no class probabilities")
        frame = _naive_utc(frame)
        # As the sklearn flavor: named columns only for a model fitted on them.
        return method(frame if hasattr(raw, "feature_names_in_") else frame.to_numpy())

    def raw_model(self, loaded: Any) -> Any:
        """The library object behind the ``PyFuncModel`` (an sklearn model's estimator), or
        ``None`` when its MLflow flavor exposes none."""
        get_raw = getattr(loaded, "get_raw_model", None)
        if not callable(get_raw):
            return None
        try:
            return get_raw()
        except NotImplementedError:
            return None


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Timezone-aware columns as naive UTC: Griffin's signature check makes timestamps
    UTC-aware, and MLflow's schema enforcement refuses aware ones."""
    aware = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.DatetimeTZDtype)]
    if not aware:
        return frame
    out = frame.copy(deep=False)
    for name in aware:
        out[name] = out[name].dt.tz_convert("UTC").dt.tz_localize(None)
    return out
