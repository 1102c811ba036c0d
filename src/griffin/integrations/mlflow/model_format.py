"""MLflow's model format (the ``MLmodel`` YAML file) read and written without MLflow.

Reading: :func:`read_mlmodel` parses an ``MLmodel`` text safely (``yaml`` safe loader only, a
size cap, a bound on the parsed document), and :func:`griffin_signature` turns its MLflow
signature into Griffin's signature JSON. :func:`griffin_metadata` describes an MLflow model
folder the way ``griffin-model.json`` describes a Griffin one, so the registry, ``griffin serve``
and ``Client.predict`` treat a version registered through MLflow like any other.

Writing: :func:`mlmodel_text` is the ``MLmodel`` that :func:`griffin.registry.flavors.save_model`
puts beside every Griffin model, so ``mlflow.pyfunc.load_model`` loads it through
:mod:`griffin.integrations.mlflow.pyfunc`.

Nothing here imports ``mlflow``: the server reads ``MLmodel`` files without MLflow installed.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

import yaml

from griffin.errors import InvalidArgument
from griffin.features.common import FeatureType
from griffin.registry.flavors import FORMAT_VERSION, METADATA_FILE
from griffin.registry.signature import Signature

__all__ = [
    "FLAVOR_NAME",
    "LOADER_MODULE",
    "MAX_MLMODEL_BYTES",
    "MLMODEL_FILE",
    "PYFUNC_FLAVOR",
    "griffin_metadata",
    "griffin_signature",
    "griffin_signature_of",
    "mlflow_signature",
    "mlmodel_flavors",
    "mlmodel_model_id",
    "mlmodel_run_id",
    "mlmodel_text",
    "read_mlmodel",
]

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"
FLAVOR_NAME = "mlflow"
"""The Griffin flavor of a version whose folder is an MLflow model."""
LOADER_MODULE = "griffin.integrations.mlflow.pyfunc"
# Real MLmodel files are a few KiB; a wide signature (thousands of columns) stays well under
# this. The cap bounds the YAML parse, which is the costly part, before it starts.
MAX_MLMODEL_BYTES = 4 * 1024 * 1024
# Bounds on the document, checked on the parser's events before anything is built: libyaml's
# composer recurses in C, so deep nesting ("[[[[...", 1 byte a level) would crash the process,
# and building objects costs far more than parsing. A real MLmodel has a few hundred events
# (its signature is one JSON string). Aliases let a small text expand into an exponential
# structure ("billion laughs"), so the built document's nodes are bounded too.
_MAX_EVENTS = 20_000
_MAX_DEPTH = 64
_MAX_NODES = 200_000

# MLflow column types (mlflow.types.DataType) and Griffin's, both ways.
_FROM_MLFLOW_TYPE: dict[str, FeatureType] = {
    "boolean": FeatureType.BOOL,
    "integer": FeatureType.INT32,
    "long": FeatureType.INT64,
    "float": FeatureType.FLOAT32,
    "double": FeatureType.FLOAT64,
    "string": FeatureType.STRING,
    "binary": FeatureType.BYTES,
    "datetime": FeatureType.TIMESTAMP,
}
_TO_MLFLOW_TYPE = {griffin: mlflow for mlflow, griffin in _FROM_MLFLOW_TYPE.items()}
# Tensor dtypes (numpy names) that are one scalar column per row, as Griffin's Arrow inference
# maps them: small integers widen to int32, unsigned ones to the next signed width.
_FROM_TENSOR_DTYPE: dict[str, FeatureType] = {
    "bool": FeatureType.BOOL,
    "int8": FeatureType.INT32,
    "int16": FeatureType.INT32,
    "uint8": FeatureType.INT32,
    "uint16": FeatureType.INT32,
    "int32": FeatureType.INT32,
    "uint32": FeatureType.INT64,
    "int64": FeatureType.INT64,
    "float16": FeatureType.FLOAT32,
    "float32": FeatureType.FLOAT32,
    "float64": FeatureType.FLOAT64,
}


def read_mlmodel(text: str | bytes) -> dict[str, Any]:
    """An ``MLmodel`` text as a dict, refusing anything that is not a plain YAML mapping.

    Only YAML's safe loader is used: tags that build Python objects
    (``!!python/object/apply:...``) are an error, never executed. Raises ``InvalidArgument``
    for text over :data:`MAX_MLMODEL_BYTES`, invalid YAML, a document that is not a mapping or
    too large once parsed, or ``flavors`` / ``signature`` that are not mappings.
    """
    if isinstance(text, str):
        # No more characters than UTF-8 bytes: a str already too long is refused unencoded.
        size = len(text) if len(text) > MAX_MLMODEL_BYTES else len(text.encode())
    else:
        size = len(text)
    if size > MAX_MLMODEL_BYTES:
        raise InvalidArgument(
            f"{MLMODEL_FILE} is {size} bytes; the most Griffin reads is {MAX_MLMODEL_BYTES}",
            details={"field": MLMODEL_FILE, "size": size},
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgument(f"{MLMODEL_FILE} is not UTF-8 text: {exc}") from None
    # The C safe loader when PyYAML has it (same tags as yaml.safe_load, faster).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_events(text, loader)
        document = yaml.load(text, Loader=loader)  # a safe loader: never yaml.Loader
    except yaml.YAMLError as exc:
        headline = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidArgument(
            f"{MLMODEL_FILE} is not valid YAML for an MLflow model: {headline}",
            details={"field": MLMODEL_FILE},
        ) from None
    if not isinstance(document, dict):
        raise InvalidArgument(
            f"{MLMODEL_FILE} must be a YAML mapping (flavors, signature, ...), "
            f"got {type(document).__name__}",
            details={"field": MLMODEL_FILE},
        )
    _check_bounded(document)
    for key in ("flavors", "signature"):
        value = document.get(key)
        if value is not None and not isinstance(value, dict):
            raise InvalidArgument(
                f"{MLMODEL_FILE}: {key!r} must be a mapping, got {type(value).__name__}",
                details={"field": f"{MLMODEL_FILE}.{key}"},
            )
    flavors = document.get("flavors") or {}
    for name, conf in flavors.items():
        if not isinstance(name, str) or not (conf is None or isinstance(conf, dict)):
            raise InvalidArgument(
                f"{MLMODEL_FILE}: flavor {name!r} must be a name with a mapping of settings",
                details={"field": f"{MLMODEL_FILE}.flavors"},
            )
    return document


def _check_events(text: str, loader: Any) -> None:
    """Refuse a text whose events are too many or nest too deep (the parser is iterative)."""
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=loader)):
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
        if depth > _MAX_DEPTH or count > _MAX_EVENTS:
            raise InvalidArgument(
                f"{MLMODEL_FILE} is too large or too deeply nested "
                f"(at most {_MAX_EVENTS} values, {_MAX_DEPTH} levels)",
                details={"field": MLMODEL_FILE},
            )


def _check_bounded(document: Any) -> None:
    """Refuse a parsed document with too many nodes or too deep (iterative: no recursion)."""
    budget = _MAX_NODES
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > _MAX_DEPTH:
            raise InvalidArgument(
                f"{MLMODEL_FILE} is too large or too deeply nested once parsed "
                f"(at most {_MAX_NODES} values, {_MAX_DEPTH} levels)",
                details={"field": MLMODEL_FILE},
            )
        if isinstance(node, dict):
            stack.extend((key, depth + 1) for key in node)
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def mlmodel_flavors(document: Mapping[str, Any]) -> list[str]:
    """The MLflow flavor names of a parsed ``MLmodel`` (``python_function``, ``sklearn``...)."""
    return [str(name) for name in document.get("flavors") or {}]


def _text_field(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) and value else None


def mlmodel_run_id(document: Mapping[str, Any]) -> str | None:
    """The run that logged the model, when the ``MLmodel`` records one."""
    return _text_field(document, "run_id")


def mlmodel_model_id(document: Mapping[str, Any]) -> str | None:
    """The MLflow 3 logged-model id (``m-<hex>``), when the ``MLmodel`` records one."""
    return _text_field(document, "model_id")


def griffin_signature(mlmodel_text: str) -> dict[str, Any] | None:
    """Griffin's signature JSON (:meth:`Signature.to_json`) for an ``MLmodel`` text.

    ``None`` when the model has no input signature, or one Griffin cannot express: unnamed
    inputs, nested types (array, object, map), or tensors of more than one value per row.
    Raises ``InvalidArgument`` only when the text itself is refused (:func:`read_mlmodel`).
    """
    return griffin_signature_of(read_mlmodel(mlmodel_text))


def griffin_signature_of(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """:func:`griffin_signature` of an already parsed ``MLmodel``."""
    signature = document.get("signature")
    if not isinstance(signature, Mapping):
        return None
    inputs = _columns(signature.get("inputs"))
    if not inputs:
        return None
    # Outputs are only names for a multi-output model's columns: an unnamed tensor output
    # (the usual case) leaves them unknown rather than losing the input signature.
    outputs = _columns(signature.get("outputs"))
    try:
        return Signature(inputs, outputs or None).to_json()
    except InvalidArgument:  # e.g. a name twice: not a signature Griffin can check against
        return None


def _columns(spec: Any) -> list[tuple[str, FeatureType]] | None:
    """MLflow schema JSON (a string in ``MLmodel``) as Griffin columns; None if not mappable."""
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            return None
    if not isinstance(spec, list) or not spec:
        return None
    columns: list[tuple[str, FeatureType]] = []
    for item in spec:
        if not isinstance(item, Mapping):
            return None
        name = item.get("name")
        if not isinstance(name, str) or not name:
            return None
        kind = item.get("type")
        if kind == "tensor":
            feature_type = _tensor_type(item.get("tensor-spec"))
        else:
            feature_type = _FROM_MLFLOW_TYPE.get(kind) if isinstance(kind, str) else None
        if feature_type is None:
            return None
        columns.append((name, feature_type))
    return columns


def _tensor_type(spec: Any) -> FeatureType | None:
    """A named tensor holding one scalar per row (shape ``[-1]``) is a column."""
    if not isinstance(spec, Mapping):
        return None
    shape = spec.get("shape")
    if not isinstance(shape, list) or shape not in ([-1], [-1, 1]):
        return None
    dtype = spec.get("dtype")
    return _FROM_TENSOR_DTYPE.get(dtype) if isinstance(dtype, str) else None


def mlflow_signature(signature: Mapping[str, Any]) -> dict[str, Any]:
    """Griffin's signature JSON as MLflow's ``MLmodel`` signature (schemas as JSON strings).

    Every Griffin column is required: Griffin's own check refuses a missing column.
    """
    parsed = Signature.from_json(signature)

    def schema(columns: tuple[Any, ...]) -> str:
        return json.dumps(
            [{"type": _TO_MLFLOW_TYPE[c.type], "name": c.name, "required": True} for c in columns]
        )

    return {
        "inputs": schema(parsed.inputs),
        "outputs": None if parsed.outputs is None else schema(parsed.outputs),
        "params": None,
    }


def mlmodel_text(metadata: Mapping[str, Any]) -> str:
    """The ``MLmodel`` for a Griffin model, from its ``griffin-model.json`` fields.

    It declares a ``python_function`` flavor loaded by :data:`LOADER_MODULE` (so
    ``mlflow.pyfunc.load_model`` works with Griffin installed) and a ``griffin`` flavor naming
    the Griffin flavor and metadata file. There is no ``data`` key: MLflow then hands the
    loader the model folder itself.
    """
    from griffin import __version__

    pyfunc: dict[str, Any] = {
        "loader_module": LOADER_MODULE,
        "python_version": str(metadata.get("python_version") or ""),
    }
    document: dict[str, Any] = {
        "flavors": {
            PYFUNC_FLAVOR: pyfunc,
            "griffin": {
                "flavor": metadata.get("flavor"),
                "format_version": metadata.get("format_version"),
                "metadata_file": METADATA_FILE,
                "griffin_version": __version__,
            },
        },
        "model_uuid": uuid.uuid4().hex,
        # MLflow writes str() of a naive UTC datetime; readers compare it as text.
        "utc_time_created": str(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
    }
    signature = metadata.get("signature")
    if signature is not None:
        document["signature"] = mlflow_signature(signature)
    return yaml.safe_dump(document, default_flow_style=False, sort_keys=True)


def griffin_metadata(document: Mapping[str, Any]) -> dict[str, Any]:
    """``griffin-model.json``-shaped metadata for an MLflow model folder's parsed ``MLmodel``.

    The flavor is :data:`FLAVOR_NAME`; ``files`` is empty because MLflow records no file
    hashes (the artifact store is the folder's only integrity check).
    """
    flavors = document.get("flavors") or {}
    pyfunc = flavors.get(PYFUNC_FLAVOR) or {}
    python_version = pyfunc.get("python_version")
    mlflow_version = document.get("mlflow_version")
    return {
        "format_version": FORMAT_VERSION,
        "flavor": FLAVOR_NAME,
        "flavor_library": "mlflow",
        "flavor_library_version": None if mlflow_version is None else str(mlflow_version),
        "python_version": None if python_version is None else str(python_version),
        "signature": griffin_signature_of(document),
        "flavor_options": {
            "mlflow_flavors": mlmodel_flavors(document),
            "run_id": mlmodel_run_id(document),
            "model_id": mlmodel_model_id(document),
        },
        "files": [],
    }
