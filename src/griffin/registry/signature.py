"""Model signatures: the named, typed input columns a model expects, in the order it expects them.

A signature is saved beside every model (``griffin-model.json``) and checked on every
``predict``: missing columns fail with their names, extra columns are dropped, columns are put
in signature order and cast where that loses nothing a model would care about. It is inferred
from training data (a pandas frame or an Arrow schema) or built from the feature schema
(:func:`from_features`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from griffin.errors import InvalidArgument
from griffin.features.common import FeatureType

__all__ = ["Column", "Signature", "from_features", "infer_signature"]


class Column(NamedTuple):
    """One named, typed column of a signature."""

    name: str
    type: FeatureType


def _columns(
    items: Iterable[Column | tuple[str, FeatureType | str]], where: str
) -> tuple[Column, ...]:
    out: list[Column] = []
    seen: set[str] = set()
    for item in items:
        name, dtype = item
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"{where}: column names must be non-empty strings, got {name!r}")
        if name in seen:
            raise InvalidArgument(f"{where}: column {name!r} appears twice")
        seen.add(name)
        out.append(Column(name, FeatureType.parse(dtype, where=f"{where} column {name!r}")))
    return tuple(out)


@dataclass(frozen=True, slots=True, init=False)
class Signature:
    """The inputs a model takes (ordered) and, optionally, the outputs it returns.

    Args:
        inputs: ``(name, FeatureType)`` pairs in the order the model reads them.
        outputs: the output columns of a multi-output model; ``None`` when not known.
    """

    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...] | None

    def __init__(
        self,
        inputs: Iterable[Column | tuple[str, FeatureType | str]],
        outputs: Iterable[Column | tuple[str, FeatureType | str]] | None = None,
    ) -> None:
        parsed = _columns(inputs, "signature inputs")
        if not parsed:
            raise InvalidArgument("signature inputs: a signature needs at least one input column")
        object.__setattr__(self, "inputs", parsed)
        object.__setattr__(
            self, "outputs", None if outputs is None else _columns(outputs, "signature outputs")
        )

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_json` reads it back."""

        def cols(columns: tuple[Column, ...]) -> list[dict[str, str]]:
            return [{"name": c.name, "type": str(c.type)} for c in columns]

        return {
            "inputs": cols(self.inputs),
            "outputs": None if self.outputs is None else cols(self.outputs),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signature:
        def cols(value: Any, field: str) -> list[tuple[str, str]]:
            if not isinstance(value, list) or not all(
                isinstance(v, Mapping) and "name" in v and "type" in v for v in value
            ):
                raise InvalidArgument(
                    f"signature {field}: expected a list of {{name, type}} objects, got {value!r}"
                )
            return [(v["name"], v["type"]) for v in value]

        if not isinstance(data, Mapping) or "inputs" not in data:
            raise InvalidArgument(f"signature: expected an object with 'inputs', got {data!r}")
        outputs = data.get("outputs")
        return cls(
            cols(data["inputs"], "inputs"), None if outputs is None else cols(outputs, "outputs")
        )

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` reduced to the signature's columns, in its order, cast where safe.

        Raises ``InvalidArgument`` naming every missing column, or a column whose values do not
        fit its type. Missing values in an integer column arrive as NaN in a float column (served
        features are null for unknown entities, and the model decides what that means).
        """
        if self._matches(frame):
            return frame  # already checked (a server checks a request once, then predicts)
        self._require(set(map(str, frame.columns)))
        return self._frame({c.name: _cast(frame[c.name], c) for c in self.inputs}, frame.index)

    def check_columns(self, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
        """:meth:`check` for a mapping of column -> values (lists or arrays), without building
        a DataFrame of them first: what a server has after parsing a request."""
        self._require(set(columns))
        cast: dict[str, Any] = {}
        for column in self.inputs:
            values = columns[column.name]
            array = values if isinstance(values, np.ndarray) else None
            if array is None and column.type in _NUMPY_FOR:
                with contextlib.suppress(ValueError, TypeError, OverflowError):
                    array = np.asarray(values)
            if array is not None and array.ndim == 1 and array.dtype.kind in "iuf":
                cast[column.name] = _cast_numbers(array, column)
            else:
                cast[column.name] = _cast(pd.Series(values), column)
        rows = len(next(iter(cast.values()))) if cast else 0
        return self._frame(cast, pd.RangeIndex(rows))

    def _require(self, present: set[str]) -> None:
        missing = [name for name in self.input_names if name not in present]
        if missing:
            raise InvalidArgument(
                f"model input is missing column(s) {', '.join(repr(m) for m in missing)}; "
                f"the signature expects {self.input_names}",
                details={"missing": missing, "expected": self.input_names},
            )

    def _frame(self, columns: dict[str, Any], index: pd.Index) -> pd.DataFrame:
        first = next(iter(columns.values()), None)
        if isinstance(first, np.ndarray) and all(
            isinstance(v, np.ndarray) and v.dtype == first.dtype for v in columns.values()
        ):
            # One block of one dtype (the common all-float case): cheaper to build, and the
            # model's to_numpy() is then a view, not a copy.
            stacked = np.column_stack(list(columns.values()))
            return pd.DataFrame(stacked, columns=_index(tuple(self.input_names)), index=index)
        return pd.DataFrame(columns, index=index)

    def _matches(self, frame: pd.DataFrame) -> bool:
        """Whether ``frame`` is already what :meth:`check` returns: exactly the signature's
        numeric columns, in order, each of its exact numpy type (then nothing is cast)."""
        if list(frame.columns) != self.input_names:
            return False
        for column, dtype in zip(self.inputs, frame.dtypes, strict=True):
            target = _NUMPY_FOR.get(column.type)
            if target is None or dtype != np.dtype(target):
                return False
        return True


_NUMPY_FOR = {
    FeatureType.INT32: np.int32,
    FeatureType.INT64: np.int64,
    FeatureType.FLOAT32: np.float32,
    FeatureType.FLOAT64: np.float64,
}
_INT_RANGE: dict[FeatureType, tuple[int, int]] = {
    FeatureType.INT32: (int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)),
    FeatureType.INT64: (int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)),
}


def _cast_numbers(values: np.ndarray[Any, Any], column: Column) -> np.ndarray[Any, Any]:
    """Plain numpy numbers (what a server builds from JSON or the online store) as the
    column's type: no value inference needed, only the range and integrality checks."""
    dtype = column.type
    target = _NUMPY_FOR[dtype]
    if values.dtype == target:
        return values
    if dtype in _INT_RANGE and values.size:
        if values.dtype.kind == "f":
            if np.isnan(values).any():
                return values.astype(np.float64)  # nulls stay NaN in a float column
            if not np.all(np.mod(values, 1) == 0):
                raise _bad(column, "has non-integer values")
        low, high = _INT_RANGE[dtype]
        if values.min() < low or values.max() > high:
            raise _bad(column, f"has values outside the {dtype} range")
    return values.astype(target)


def _bad(column: Column, problem: str) -> InvalidArgument:
    return InvalidArgument(
        f"model input column {column.name!r} ({column.type}): {problem}",
        details={"column": column.name, "type": str(column.type)},
    )


@functools.lru_cache(maxsize=256)
def _index(names: tuple[str, ...]) -> pd.Index:
    """The column index of a signature's frames, built once: with pandas 3 an index of
    strings is Arrow-backed, and building one per request costs more than the predict."""
    return pd.Index(names, dtype=object)


def _cast(series: pd.Series, column: Column) -> pd.Series | np.ndarray[Any, Any]:
    def bad(problem: str) -> InvalidArgument:
        return _bad(column, problem)

    dtype = column.type
    if dtype in _NUMPY_FOR and series.dtype.kind in "iuf":
        return _cast_numbers(series.to_numpy(), column)
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if dtype.is_numeric:
        if kind not in {
            "integer",
            "floating",
            "mixed-integer-float",
            "boolean",
            "empty",
            "decimal",
        }:
            raise bad(f"expected numbers, got {kind} values")
        values = series.astype(np.float64) if kind == "boolean" else pd.to_numeric(series)
        target = _NUMPY_FOR[dtype]
        if dtype in _INT_RANGE:
            floats = np.asarray(values, dtype=np.float64)
            if np.isnan(floats).any():
                # Nulls (served features are null for unknown entities) stay NaN in a float
                # column rather than fail the request; the model decides what they mean.
                return pd.Series(floats, index=series.index, name=series.name)
            if not np.all(np.mod(floats, 1) == 0):
                raise bad("has non-integer values")
            low, high = _INT_RANGE[dtype]
            if floats.size and (floats.min() < low or floats.max() > high):
                raise bad(f"has values outside the {dtype} range")
        return values.astype(target)
    if dtype is FeatureType.BOOL:
        if kind in {"boolean", "empty"}:
            return series if series.isna().any() else series.astype(bool)
        if kind == "integer" and series.isin([0, 1]).all():
            return series.astype(bool)
        raise bad(f"expected booleans, got {kind} values")
    if dtype is FeatureType.STRING:
        if kind not in {"string", "empty"}:
            raise bad(f"expected strings, got {kind} values")
        return series
    if dtype is FeatureType.BYTES:
        if kind not in {"bytes", "empty"}:
            raise bad(f"expected bytes, got {kind} values")
        return series
    # TIMESTAMP: naive values are read as UTC (the house rule for every timestamp).
    if kind not in {"datetime64", "datetime", "date", "string", "mixed", "empty"}:
        raise bad(f"expected timestamps, got {kind} values")
    try:
        return pd.to_datetime(series, utc=True)
    except (ValueError, TypeError) as exc:
        raise bad(f"has values that are not timestamps ({exc})") from None


def _feature_type_of_arrow(arrow_type: Any, name: str) -> FeatureType:
    import pyarrow as pa

    t = pa.types
    if t.is_dictionary(arrow_type):
        return _feature_type_of_arrow(arrow_type.value_type, name)
    checks: list[tuple[Any, FeatureType]] = [
        (t.is_boolean, FeatureType.BOOL),
        (lambda x: t.is_int8(x) or t.is_int16(x) or t.is_int32(x), FeatureType.INT32),
        (lambda x: t.is_uint8(x) or t.is_uint16(x), FeatureType.INT32),
        (t.is_integer, FeatureType.INT64),
        (lambda x: t.is_float16(x) or t.is_float32(x), FeatureType.FLOAT32),
        (t.is_floating, FeatureType.FLOAT64),
        (t.is_decimal, FeatureType.FLOAT64),
        (
            lambda x: t.is_string(x) or t.is_large_string(x) or t.is_string_view(x),
            FeatureType.STRING,
        ),
        (
            lambda x: t.is_binary(x) or t.is_large_binary(x) or t.is_fixed_size_binary(x),
            FeatureType.BYTES,
        ),
        (lambda x: t.is_timestamp(x) or t.is_date(x), FeatureType.TIMESTAMP),
    ]
    for check, feature_type in checks:
        if check(arrow_type):
            return feature_type
    raise InvalidArgument(
        f"cannot infer a signature type for column {name!r} of type {arrow_type}; "
        f"supported: {', '.join(t.value for t in FeatureType)}",
        details={"column": name, "type": str(arrow_type)},
    )


def infer_signature(data: Any, *, exclude: Iterable[str] = (), outputs: Any = None) -> Signature:
    """A signature from a pandas frame, an Arrow table or schema, or a dict of columns.

    Args:
        data: the training inputs (or an example of them).
        exclude: columns that are not model inputs (the target, entity keys, timestamps).
        outputs: optionally, a frame of the model's outputs, to name them.
    """
    import pyarrow as pa

    skip = set(exclude)
    if isinstance(data, Mapping) and not isinstance(data, pd.DataFrame):
        data = pd.DataFrame(dict(data))
    if isinstance(data, pd.DataFrame):
        unknown = skip - set(map(str, data.columns))
        if unknown:
            raise InvalidArgument(
                f"infer_signature: exclude names unknown column(s) {sorted(unknown)}"
            )
        data = data.drop(columns=list(skip))
        if data.columns.empty:
            raise InvalidArgument("infer_signature: no input columns left")
        schema = pa.Schema.from_pandas(data, preserve_index=False)
    elif isinstance(data, pa.Table | pa.RecordBatch):
        schema = data.schema
    elif isinstance(data, pa.Schema):
        schema = data
    else:
        raise InvalidArgument(
            "infer_signature: expected a pandas DataFrame, a pyarrow Table or Schema, or a dict "
            f"of columns, got {type(data).__name__}"
        )
    inputs = [
        Column(f.name, _feature_type_of_arrow(f.type, f.name)) for f in schema if f.name not in skip
    ]
    if not inputs:
        raise InvalidArgument("infer_signature: no input columns left")
    out = None if outputs is None else infer_signature(outputs).inputs
    return Signature(inputs, out)


def from_features(
    columns: Mapping[str, FeatureType | str],
    *,
    outputs: Mapping[str, FeatureType | str] | None = None,
) -> Signature:
    """A signature from a feature selection: ``{name: FeatureType}`` in model input order."""
    return Signature(list(columns.items()), None if outputs is None else list(outputs.items()))
