"""Model flavors: how a trained Python model object becomes files, and how the files become a model.

A *flavor* knows one ML library: whether an object belongs to it (``matches``), how to write it
to a folder (``save``), read it back (``load``) and call it on a frame (``predict``). Detection
tries :data:`FLAVORS` in order and the first match wins. The specific libraries come first:
XGBoost's and LightGBM's scikit-learn-style models are scikit-learn estimators too, and their
native formats are safer and more portable than a pickle.

No flavor imports its library until it is used: ``matches`` looks in ``sys.modules`` first, since
an object of a library that was never imported cannot exist. Importing this module therefore
costs nothing, even with torch installed.

:func:`save_model` writes the model files and ``griffin-model.json`` (format version, flavor,
library version, Python version, signature, and every file's sha256); :func:`load_model` checks
the hashes and returns a :class:`LoadedModel` whose ``predict`` takes a frame, a dict of columns
or a list of row dicts whatever the flavor. Flavors that use pickle (``sklearn``, ``pyfunc``) run
code from the file when loaded: the server never loads them (``allow_pickle=False``).

MLflow interop goes both ways. :func:`save_model` also writes an ``MLmodel`` file, so
``mlflow.pyfunc.load_model`` loads a Griffin model (through
:mod:`griffin.integrations.mlflow.pyfunc`). A folder with an ``MLmodel`` and no
``griffin-model.json`` (a version registered through MLflow's API) is flavor ``mlflow``: it is
loaded and called with ``mlflow.pyfunc``, which unpickles, so only client side.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import os
import pickle
import platform
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import orjson
import pandas as pd

from griffin.errors import AlreadyExists, InvalidArgument, NotFound, NotSupported
from griffin.registry.signature import Signature, infer_signature

__all__ = [
    "FLAVORS",
    "FORMAT_VERSION",
    "LOAD_ONLY_FLAVORS",
    "METADATA_FILE",
    "MLMODEL_FILE",
    "Flavor",
    "LoadedModel",
    "SavedModel",
    "as_frame",
    "detect_flavor",
    "flavor_named",
    "is_model_folder",
    "load_model",
    "read_metadata",
    "save_model",
    "verify_files",
]

FORMAT_VERSION = 1
METADATA_FILE = "griffin-model.json"
MLMODEL_FILE = "MLmodel"
"""MLflow's model description: written beside every Griffin model, read in an MLflow model."""
Options = dict[str, Any]


def _loaded(module: str) -> Any:
    """The module if something already imported it, else ``None`` (never imports it)."""
    return sys.modules.get(module)


class Flavor:
    """One ML library's way of saving, loading and calling a model.

    Subclasses set ``name``, ``library`` (the import name whose ``__version__`` is recorded) and
    ``uses_pickle``, and implement the four methods. ``save`` returns flavor options, a small
    JSON-able dict stored in the metadata and handed back to ``load`` and ``predict``.
    """

    name: ClassVar[str]
    library: ClassVar[str | None] = None
    uses_pickle: ClassVar[bool] = False

    def matches(self, model: Any) -> bool:
        raise NotImplementedError

    def save(
        self, model: Any, folder: Path, *, signature: Signature | None, example: pd.DataFrame | None
    ) -> Options:
        raise NotImplementedError

    def load(self, folder: Path, options: Options) -> Any:
        raise NotImplementedError

    def predict(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        raise NotImplementedError

    def predict_proba(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        """Class probabilities, one column per class (``NotSupported`` where there are none)."""
        method = getattr(loaded, "predict_proba", None)
        if not callable(method):
            raise NotSupported(f"this {self.name} model gives no class probabilities")
        return method(_model_input(loaded, frame))

    def raw_model(self, loaded: Any) -> Any:
        """The library's own model object behind what ``load`` returned (to read ``classes_``)."""
        return loaded

    def library_version(self) -> str | None:
        if self.library is None:
            return None
        return str(getattr(importlib.import_module(self.library), "__version__", "unknown"))


def _model_input(model: Any, frame: pd.DataFrame) -> Any:
    """The frame itself when the model was fitted on named columns, else its values."""
    return frame if hasattr(model, "feature_names_in_") else frame.to_numpy()


class XGBoostFlavor(Flavor):
    """``xgboost.Booster`` and the scikit-learn API models, in XGBoost's own UBJSON format."""

    name = "xgboost"
    library = "xgboost"
    _SKLEARN_CLASSES = frozenset(
        {
            "XGBModel",
            "XGBRegressor",
            "XGBClassifier",
            "XGBRanker",
            "XGBRFRegressor",
            "XGBRFClassifier",
        }
    )

    def matches(self, model: Any) -> bool:
        xgb = _loaded("xgboost")
        return xgb is not None and isinstance(model, xgb.Booster | xgb.XGBModel)

    def save(
        self, model: Any, folder: Path, *, signature: Signature | None, example: pd.DataFrame | None
    ) -> Options:
        import xgboost as xgb

        model.save_model(str(folder / "model.ubj"))
        if isinstance(model, xgb.Booster):
            return {"model_class": "Booster"}
        cls = type(model)
        # A user subclass is loaded as its nearest xgboost class: no user code runs at load.
        base = next(c for c in cls.__mro__ if c.__name__ in self._SKLEARN_CLASSES)
        return {"model_class": base.__name__}

    def load(self, folder: Path, options: Options) -> Any:
        import xgboost as xgb

        name = options.get("model_class", "Booster")
        if name != "Booster" and name not in self._SKLEARN_CLASSES:
            raise InvalidArgument(f"xgboost model: unknown model_class {name!r}")
        model = xgb.Booster() if name == "Booster" else getattr(xgb, name)()
        model.load_model(str(folder / "model.ubj"))
        return model

    def predict(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        import xgboost as xgb

        if isinstance(loaded, xgb.Booster):
            data = frame if loaded.feature_names is not None else frame.to_numpy()
            return loaded.predict(xgb.DMatrix(data))
        named = loaded.get_booster().feature_names is not None
        return loaded.predict(frame if named else frame.to_numpy())

    def predict_proba(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        if not hasattr(loaded, "predict_proba"):
            raise NotSupported("this xgboost model gives no class probabilities")
        named = loaded.get_booster().feature_names is not None
        return loaded.predict_proba(frame if named else frame.to_numpy())


class LightGBMFlavor(Flavor):
    """``lightgbm.Booster`` and the scikit-learn API models, in LightGBM's text model format.

    A scikit-learn API model is saved as its booster plus, for classifiers, its ``classes_``, so
    ``predict`` still returns class labels without unpickling the estimator.
    """

    name = "lightgbm"
    library = "lightgbm"

    def matches(self, model: Any) -> bool:
        lgb = _loaded("lightgbm")
        return lgb is not None and isinstance(model, lgb.Booster | lgb.LGBMModel)

    def save(
        self, model: Any, folder: Path, *, signature: Signature | None, example: pd.DataFrame | None
    ) -> Options:
        import lightgbm as lgb

        booster = model if isinstance(model, lgb.Booster) else model.booster_
        booster.save_model(str(folder / "model.txt"))
        if isinstance(model, lgb.LGBMClassifier):
            classes = np.asarray(model.classes_).tolist()
            if not all(isinstance(c, int | float | str | bool) for c in classes):
                raise NotSupported(
                    "lightgbm classifier: class labels must be numbers or strings to be saved "
                    f"natively, got {type(classes[0]).__name__}"
                )
            return {"kind": "classifier", "classes": classes}
        return {"kind": "booster" if isinstance(model, lgb.Booster) else "regressor"}

    def load(self, folder: Path, options: Options) -> Any:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(folder / "model.txt"))

    def predict(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        scores = np.asarray(loaded.predict(frame))
        if options.get("kind") != "classifier":
            return scores
        classes = np.asarray(options["classes"])
        # As LGBMClassifier.predict: argmax of the class probabilities (binary: P(class 1) > 0.5).
        index = (scores > 0.5).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return classes[index]

    def predict_proba(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        if options.get("kind") != "classifier":
            raise NotSupported("this lightgbm model is not a classifier")
        scores = np.asarray(loaded.predict(frame))
        return np.column_stack([1 - scores, scores]) if scores.ndim == 1 else scores


class SklearnFlavor(Flavor):
    """Any scikit-learn estimator or pipeline, saved with joblib (a pickle: client side only)."""

    name = "sklearn"
    library = "sklearn"
    uses_pickle = True

    def matches(self, model: Any) -> bool:
        if _loaded("sklearn") is None:
            return False
        from sklearn.base import BaseEstimator

        return isinstance(model, BaseEstimator)

    def save(
        self, model: Any, folder: Path, *, signature: Signature | None, example: pd.DataFrame | None
    ) -> Options:
        import joblib

        joblib.dump(model, folder / "model.joblib")
        return {}

    def load(self, folder: Path, options: Options) -> Any:
        import joblib

        return joblib.load(folder / "model.joblib")

    def predict(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        return loaded.predict(_model_input(loaded, frame))


@contextlib.contextmanager
def _quiet_torchscript() -> Iterator[None]:
    # torch 2.13 deprecates TorchScript in favour of torch.export, but TorchScript is still the
    # one format that loads without the user's class; say so once in the docs, not per call.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit", category=DeprecationWarning)
        yield


class PyTorchFlavor(Flavor):
    """A ``torch.nn.Module`` saved as TorchScript, so loading needs no user class.

    Scripting is tried first; a module that cannot be scripted is traced with an example input
    (the ``input_example``, else zeros shaped by the signature). Inputs are a float32 tensor of the
    signature's columns, in order.
    """

    name = "pytorch"
    library = "torch"

    def matches(self, model: Any) -> bool:
        torch = _loaded("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def save(
        self, model: Any, folder: Path, *, signature: Signature | None, example: pd.DataFrame | None
    ) -> Options:
        import torch

        with _quiet_torchscript():
            try:
                compiled = torch.jit.script(model)
                how = "script"
            except Exception as script_error:
                compiled = self._trace(model, signature, example, script_error)
                how = "trace"
            torch.jit.save(compiled, str(folder / "model.pt"))
        return {"torchscript": how}

    @staticmethod
    def _trace(
        model: Any, signature: Signature | None, example: pd.DataFrame | None, cause: Exception
    ) -> Any:
        import torch

        if example is not None:
            tensor = torch.as_tensor(example.to_numpy(dtype=np.float32, copy=True))
        elif signature is not None:
            tensor = torch.zeros((2, len(signature.inputs)), dtype=torch.float32)
        else:
            raise InvalidArgument(
                f"pytorch model {type(model).__name__}: torch.jit.script failed ({cause}); "
                "tracing it needs an example input: pass signature= or input_example="
            ) from cause
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return torch.jit.trace(model, tensor)  # type: ignore[no-untyped-call]
        finally:
            model.train(was_training)

    def load(self, folder: Path, options: Options) -> Any:
        import torch

        with _quiet_torchscript():
            module = torch.jit.load(  # type: ignore[no-untyped-call]
                str(folder / "model.pt"), map_location="cpu"
            )
        module.eval()
        return module

    def predict(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        import torch

        tensor = torch.as_tensor(frame.to_numpy(dtype=np.float32, copy=True))
        with torch.no_grad():
            out = loaded(tensor)
        if not isinstance(out, torch.Tensor):
            raise NotSupported(
                f"pytorch model returned {type(out).__name__}; Griffin serves models that "
                "return one tensor"
            )
        return out.detach().cpu().numpy()


class PyFuncFlavor(Flavor):
    """Any other object with a callable ``predict``, pickled with the standard library.

    Loading imports the object's class by name, so the code that defines it must be importable
    (installed, or on ``sys.path``) wherever the model is loaded.
    """

    name = "pyfunc"
    uses_pickle = True

    def matches(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(
        self, model: Any, folder: Path, *, signature: Signature | None, example: pd.DataFrame | None
    ) -> Options:
        cls = type(model)
        with (folder / "model.pkl").open("wb") as f:
            try:
                pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                raise InvalidArgument(
                    f"pyfunc model {cls.__qualname__} cannot be pickled ({exc}); define its "
                    "class at module level in an importable module"
                ) from exc
        return {"python_class": f"{cls.__module__}.{cls.__qualname__}"}

    def load(self, folder: Path, options: Options) -> Any:
        with (folder / "model.pkl").open("rb") as f:
            try:
                return pickle.load(f)
            except (ModuleNotFoundError, AttributeError) as exc:
                raise NotFound(
                    f"pyfunc model: cannot import {options.get('python_class')!r} ({exc}); "
                    "the code that defines it must be importable where the model is loaded"
                ) from exc

    def predict(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        return loaded.predict(frame)

    def predict_proba(self, loaded: Any, frame: pd.DataFrame, options: Options) -> Any:
        method = getattr(loaded, "predict_proba", None)
        if not callable(method):
            raise NotSupported("this pyfunc model has no predict_proba()")
        return method(frame)


FLAVORS: tuple[Flavor, ...] = (
    XGBoostFlavor(),
    LightGBMFlavor(),
    SklearnFlavor(),
    PyTorchFlavor(),
    PyFuncFlavor(),
)
"""Every flavor, in detection order: the first whose ``matches`` is true is used."""

LOAD_ONLY_FLAVORS: dict[str, str] = {
    "mlflow": "griffin.integrations.mlflow.pyfunc:MLflowFlavor",
}
"""Flavors that load models but never save one: name -> ``module:class``, imported when a
model of theirs is first loaded (the MLflow flavor imports nothing of MLflow until then)."""


def detect_flavor(model: Any) -> Flavor:
    """The flavor that saves ``model``; ``InvalidArgument`` when none does."""
    for flavor in FLAVORS:
        if flavor.matches(model):
            return flavor
    cls = type(model)
    raise InvalidArgument(
        f"cannot save a model of type {cls.__module__}.{cls.__qualname__}: it is not a "
        f"{', '.join(f.name for f in FLAVORS[:-1])} model and has no predict() method "
        "(any object with predict() is saved as pyfunc)",
        details={
            "type": f"{cls.__module__}.{cls.__qualname__}",
            "flavors": [f.name for f in FLAVORS],
        },
    )


def flavor_named(name: str) -> Flavor:
    for flavor in FLAVORS:
        if flavor.name == name:
            return flavor
    if name in LOAD_ONLY_FLAVORS:
        return _load_only_flavor(name)
    raise NotSupported(
        f"unknown model flavor {name!r} (saved by a newer Griffin?); this one knows "
        f"{', '.join([*(f.name for f in FLAVORS), *LOAD_ONLY_FLAVORS])}"
    )


@functools.cache
def _load_only_flavor(name: str) -> Flavor:
    module, _, attr = LOAD_ONLY_FLAVORS[name].partition(":")
    flavor: Flavor = getattr(importlib.import_module(module), attr)()
    return flavor


@dataclass(frozen=True, slots=True)
class SavedModel:
    """What :func:`save_model` wrote: the folder, flavor, signature and the metadata it recorded."""

    folder: Path
    flavor: str
    signature: Signature | None
    metadata: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model read back by :func:`load_model`, with one ``predict`` for every flavor."""

    flavor: str
    signature: Signature | None
    raw: Any = field(repr=False)
    metadata: dict[str, Any] = field(repr=False)

    def predict(self, data: Any) -> Any:
        """Predictions for a DataFrame, a dict of columns or a list of row dicts.

        Columns are checked against the signature (missing: ``InvalidArgument``; extra: dropped;
        cast where safe) and put in its order. Returns a numpy array, 1-D for a single output,
        or a DataFrame named by the signature's outputs for a multi-output model.
        """
        frame = self.prepare(data)
        flavor = flavor_named(self.flavor)
        return _shape_output(
            flavor.predict(self.raw, frame, self.metadata.get("flavor_options", {})),
            self.signature,
            frame.index,
        )

    def prepare(self, data: Any) -> pd.DataFrame:
        """``data`` as this model's input: a frame of the signature's columns, in its order,
        cast where safe (``InvalidArgument`` naming a missing or unusable column).
        Preparing a prepared frame changes nothing."""
        if isinstance(data, Mapping) and self.signature is not None:
            # Columns as parsed from a request: checked and cast without a DataFrame first.
            if data and all(np.ndim(v) == 0 for v in data.values()):
                data = {k: [v] for k, v in data.items()}  # one row
            return self.signature.check_columns(data)
        frame = _to_frame(data, self.signature)
        if self.signature is not None:
            frame = self.signature.check(frame)
        return frame

    def predict_proba(self, data: Any) -> np.ndarray[Any, Any]:
        """Class probabilities (rows x classes, in the order of :attr:`classes`) for the same
        inputs as :meth:`predict`; ``NotSupported`` for a model that gives none."""
        frame = self.prepare(data)
        flavor = flavor_named(self.flavor)
        options = self.metadata.get("flavor_options", {})
        return np.asarray(flavor.predict_proba(self.raw, frame, options))

    @property
    def classes(self) -> list[Any] | None:
        """A classifier's class labels, in the order of :meth:`predict_proba`'s columns."""
        return _classes(self.flavor, self.raw, self.metadata.get("flavor_options", {}))


def _classes(flavor: str, raw: Any, options: Mapping[str, Any]) -> list[Any] | None:
    if flavor == "lightgbm":
        classes = options.get("classes")
        return list(classes) if classes is not None else None
    raw = flavor_named(flavor).raw_model(raw)
    found = getattr(raw, "classes_", None)
    return None if found is None else np.asarray(found).tolist()


def as_frame(data: Any) -> pd.DataFrame:
    """Model input as a DataFrame: a DataFrame, a dict of columns, row dicts or Arrow."""
    return _to_frame(data, None)


def _to_frame(data: Any, signature: Signature | None) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        if data and all(np.ndim(v) == 0 for v in data.values()):
            return pd.DataFrame({k: [v] for k, v in data.items()})  # one row
        return pd.DataFrame(dict(data))
    if (
        isinstance(data, Sequence)
        and not isinstance(data, str | bytes)
        and all(isinstance(row, Mapping) for row in data)
    ):
        return pd.DataFrame.from_records(list(data))
    if isinstance(data, np.ndarray) and data.ndim == 2:
        if signature is not None and data.shape[1] != len(signature.inputs):
            raise InvalidArgument(
                f"model input has {data.shape[1]} columns; the signature expects "
                f"{len(signature.inputs)}: {signature.input_names}"
            )
        columns = signature.input_names if signature is not None else None
        return pd.DataFrame(data, columns=columns)
    if hasattr(data, "to_pandas") and hasattr(data, "schema"):  # a pyarrow Table
        frame: pd.DataFrame = data.to_pandas()
        return frame
    raise InvalidArgument(
        "model input must be a pandas DataFrame, a dict of columns, a list of row dicts or a "
        f"2-D numpy array, got {type(data).__name__}"
    )


def _shape_output(result: Any, signature: Signature | None, index: pd.Index) -> Any:
    if isinstance(result, pd.DataFrame):
        return result
    values = np.asarray(result)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    outputs = signature.outputs if signature is not None else None
    if values.ndim == 2 and outputs is not None and len(outputs) == values.shape[1]:
        return pd.DataFrame(values, columns=[c.name for c in outputs], index=index)
    return values


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _example_frame(input_example: Any) -> pd.DataFrame | None:
    return None if input_example is None else _to_frame(input_example, None)


def save_model(
    model: Any,
    folder: str | os.PathLike[str],
    *,
    signature: Signature | None = None,
    input_example: Any = None,
) -> SavedModel:
    """Write ``model`` to ``folder`` (created; must not hold anything) in its flavor's format.

    The flavor is detected before anything is written. With no ``signature``, one is inferred
    from ``input_example`` when given. The files are written to a temporary sibling folder and
    moved into place at the end, so a failed save leaves nothing behind.
    """
    flavor = detect_flavor(model)
    example = _example_frame(input_example)
    if signature is None and example is not None:
        signature = infer_signature(example)
    if signature is not None and example is not None:
        example = signature.check(example)
    target = Path(folder)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(f"cannot save a model to {target}: it exists and is not empty")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.saving-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        options = flavor.save(model, staging, signature=signature, example=example)
        metadata: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "flavor": flavor.name,
            "flavor_library": flavor.library,
            "flavor_library_version": flavor.library_version(),
            "python_version": platform.python_version(),
            "signature": None if signature is None else signature.to_json(),
            "flavor_options": options,
        }
        # Before hashing, so the MLmodel is one of the recorded files: a cached or downloaded
        # copy then verifies whole, and mlflow.pyfunc.load_model reads an unchanged folder.
        from griffin.integrations.mlflow.model_format import mlmodel_text

        (staging / MLMODEL_FILE).write_text(mlmodel_text(metadata), encoding="utf-8")
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        metadata["files"] = [
            {
                "path": p.relative_to(staging).as_posix(),
                "sha256": _sha256(p),
                "size": p.stat().st_size,
            }
            for p in files
        ]
        (staging / METADATA_FILE).write_bytes(
            orjson.dumps(metadata, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        )
        if target.exists():
            target.rmdir()  # empty (checked above); os.replace needs it gone or empty
        staging.replace(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return SavedModel(folder=target, flavor=flavor.name, signature=signature, metadata=metadata)


def is_model_folder(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a model :func:`load_model` reads: a Griffin model
    (``griffin-model.json``) or an MLflow one (``MLmodel``)."""
    path = Path(folder)
    return (path / METADATA_FILE).is_file() or (path / MLMODEL_FILE).is_file()


def read_metadata(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``griffin-model.json`` of a saved model (no model file is read).

    For an MLflow model folder (an ``MLmodel``, no ``griffin-model.json``) the same fields
    are read from the ``MLmodel``: flavor ``mlflow``, its signature, and no file hashes.
    """
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        mlmodel = Path(folder) / MLMODEL_FILE
        if mlmodel.is_file():
            return _mlflow_metadata(mlmodel)
        raise NotFound(
            f"{folder} is not a saved model: it has no {METADATA_FILE} (Griffin) "
            f"or {MLMODEL_FILE} (MLflow)"
        )
    try:
        metadata = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict) or "flavor" not in metadata:
        raise InvalidArgument(f"{path}: not a Griffin model description")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise NotSupported(
            f"{path}: model format version {version!r} is newer than this Griffin reads "
            f"({FORMAT_VERSION}); upgrade griffin-ml"
        )
    return metadata


def _mlflow_metadata(mlmodel: Path) -> dict[str, Any]:
    from griffin.integrations.mlflow import model_format

    # Size first: a file too large is refused without reading it all into memory.
    if mlmodel.stat().st_size > model_format.MAX_MLMODEL_BYTES:
        raise InvalidArgument(
            f"{mlmodel} is larger than the {model_format.MAX_MLMODEL_BYTES} bytes Griffin reads"
        )
    try:
        document = model_format.read_mlmodel(mlmodel.read_bytes())
    except InvalidArgument as exc:
        raise InvalidArgument(f"{mlmodel}: {exc.message}", details=exc.details) from None
    return model_format.griffin_metadata(document)


def _verify_files(folder: Path, metadata: Mapping[str, Any]) -> None:
    root = folder.resolve()
    for entry in metadata.get("files", []):
        path = (folder / str(entry.get("path", ""))).resolve()
        # The metadata is data from disk: never follow it outside the model's folder.
        if not path.is_relative_to(root) or path == root:
            raise InvalidArgument(
                f"{folder}/{METADATA_FILE}: file path {entry.get('path')!r} is outside the model"
            )
        if not path.is_file():
            raise NotFound(f"{folder}: model file {entry['path']!r} is missing")
        if _sha256(path) != entry.get("sha256"):
            raise InvalidArgument(
                f"{folder}: model file {entry['path']!r} does not match the sha256 recorded "
                f"in {METADATA_FILE} (changed or truncated after saving)"
            )


def verify_files(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Check a saved model's files against the sha256 in its metadata; returns the metadata."""
    metadata = read_metadata(folder)
    _verify_files(Path(folder), metadata)
    return metadata


def load_model(folder: str | os.PathLike[str], *, allow_pickle: bool = True) -> LoadedModel:
    """Read a model saved by :func:`save_model`, after checking its files' hashes.

    ``allow_pickle=False`` refuses flavors stored as pickles (``sklearn``, ``pyfunc``, and
    ``mlflow``: an MLflow model folder, loaded with ``mlflow.pyfunc``), whose loading runs code
    from the file; the server always passes it. Loading a ``pyfunc`` model imports its class,
    so the defining code must be importable here.
    """
    path = Path(folder)
    metadata = read_metadata(path)
    flavor = flavor_named(str(metadata["flavor"]))
    if flavor.uses_pickle and not allow_pickle:
        raise NotSupported(
            f"model flavor {flavor.name!r} is stored as a pickle, which is only loaded client "
            "side (loading runs code from the file)"
        )
    _verify_files(path, metadata)
    spec = metadata.get("signature")
    signature = None if spec is None else Signature.from_json(spec)
    model = flavor.load(path, metadata.get("flavor_options", {}))
    return LoadedModel(flavor=flavor.name, signature=signature, raw=model, metadata=metadata)
