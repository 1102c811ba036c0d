"""Online feature reads: the latest feature values of some entities, for a model at request time.

The SDK (sync and async), the REST route of ``griffin server`` and the lean feature server
(``griffin features serve``) all read through :class:`OnlineReader`. The read path is built to
cost little more than the store's own round trip:

- A request's ``features`` argument is resolved ONCE into a plan (which store names, which
  value positions, which output columns, how to cast the join keys) and cached, keyed by the
  argument itself. A call then only casts and encodes the keys, makes ONE
  :meth:`~griffin.features.online.OnlineStore.read_values` call for every view together, and
  slices the records' values by position (a C-level transpose, no per-value dicts).
- On-demand views run through :meth:`Selection.finish`, the very method training data uses,
  on a small pandas frame built only when the request has on-demand views.

Entities without a (fresh) record get each feature's ``default`` (``None`` unless declared).
"""

from __future__ import annotations

import difflib
import functools
import operator
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from griffin.domain.accounts import Principal, Role
from griffin.errors import InvalidArgument, NotSupported

from .common import FeatureType
from .online.base import OnlineStore, ViewRead
from .project import Definitions, overlay
from .selection import FeatureRefs, Selection, select, storage_name

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from griffin.store.session import Database

__all__ = [
    "EntityRows",
    "OnlineReader",
    "OnlineRequest",
    "OnlineResult",
    "ProjectReaders",
    "is_unknown_name",
    "registry_definitions",
]

# dict of column -> list (the fast path), a list of row dicts, a pandas DataFrame or an Arrow
# table.
EntityRows = Any
_CACHE_SIZE = 256
_NONE = type(None)


class OnlineResult:
    """The features of each entity row: join keys first, then the features in request order.

    ``to_dict()`` is the cheap form (column -> list of Python values); ``to_arrow()`` and
    ``to_pandas()`` build typed tables from it on demand.
    """

    __slots__ = ("_columns", "_loose", "_types")

    def __init__(
        self,
        columns: dict[str, list[Any]],
        types: Mapping[str, FeatureType],
        loose: frozenset[str] = frozenset(),
    ) -> None:
        self._columns = columns
        self._types = types
        self._loose = loose  # on-demand columns: pandas output, NaN may stand for null

    @property
    def columns(self) -> list[str]:
        """The output column names, in order."""
        return list(self._columns)

    def __len__(self) -> int:
        for values in self._columns.values():
            return len(values)
        return 0

    def to_dict(self) -> dict[str, list[Any]]:
        """Column -> list of values (``None`` where an entity has no value)."""
        return dict(self._columns)

    def to_arrow(self) -> pa.Table:
        """An Arrow table typed by the features' declared types."""
        import pyarrow as pa

        arrays = {
            name: pa.array(
                values,
                type=self._types[name].arrow_type() if name in self._types else None,
                from_pandas=name in self._loose,
            )
            for name, values in self._columns.items()
        }
        return pa.table(arrays)

    def to_pandas(self) -> pd.DataFrame:
        """A pandas DataFrame, typed as :meth:`to_arrow` then ``to_pandas`` would type it (so
        types match training data): nulls in an integer column make it float64 with NaN."""
        import pandas as pd

        arrays = self._numeric_arrays()
        if arrays is not None:  # the common case, and ~10x cheaper than the Arrow round trip
            return pd.DataFrame(arrays, copy=False)
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    def _numeric_arrays(self) -> dict[str, Any] | None:
        """Each column as a numpy array when every one is numeric and declared (else None)."""
        import numpy as np

        arrays: dict[str, Any] = {}
        for name, values in self._columns.items():
            dtype = self._types.get(name)
            if dtype is None or not dtype.is_numeric or name in self._loose:
                return None
            target = _numpy_of()[dtype]
            if any(v is None for v in values):
                target = np.float64 if target is not np.float32 else np.float32
            try:
                arrays[name] = np.array(values, dtype=target)
            except (TypeError, ValueError, OverflowError):
                return None  # let Arrow say what is wrong
        return arrays

    def __repr__(self) -> str:
        return f"OnlineResult({len(self)} rows, columns={self.columns})"


@functools.cache
def _numpy_of() -> dict[FeatureType, Any]:
    """The numpy type of each numeric feature type (numpy is imported on first use)."""
    import numpy as np

    return {
        FeatureType.INT32: np.int32,
        FeatureType.INT64: np.int64,
        FeatureType.FLOAT32: np.float32,
        FeatureType.FLOAT64: np.float64,
    }


# --- casting request values to the declared types -------------------------------------------

Cast = Callable[[list[Any], str], list[Any]]


def _bad(column: str, value: object, dtype: FeatureType) -> InvalidArgument:
    return InvalidArgument(
        f"column {column!r}: {value!r} is not a valid {dtype} value",
        details={"field": column},
    )


def _to_int(value: Any, column: str) -> Any:
    if value is None or type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _bad(column, value, FeatureType.INT64) from None
    if not isinstance(value, bool) and hasattr(value, "__index__"):  # numpy integers
        return operator.index(value)
    raise _bad(column, value, FeatureType.INT64)


def _to_float(value: Any, column: str) -> Any:
    if value is None or type(value) is float:
        return value
    if isinstance(value, bool):
        raise _bad(column, value, FeatureType.FLOAT64)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(column, value, FeatureType.FLOAT64) from None


def _to_str(value: Any, column: str) -> Any:
    if value is None or type(value) is str:
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        return str(value)
    raise _bad(column, value, FeatureType.STRING)


def _to_bool(value: Any, column: str) -> Any:
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _bad(column, value, FeatureType.BOOL)


def _each(convert: Callable[[Any, str], Any], exact: type) -> Cast:
    allowed = {exact, _NONE}

    def cast(values: list[Any], column: str) -> list[Any]:
        if set(map(type, values)) <= allowed:  # the common case: one C-level pass
            return values
        return [convert(v, column) for v in values]

    return cast


def _keep(values: list[Any], column: str) -> list[Any]:
    return values


_CASTS: dict[FeatureType, Cast] = {
    FeatureType.INT64: _each(_to_int, int),
    FeatureType.INT32: _each(_to_int, int),
    FeatureType.FLOAT64: _each(_to_float, float),
    FeatureType.FLOAT32: _each(_to_float, float),
    FeatureType.STRING: _each(_to_str, str),
    FeatureType.BOOL: _each(_to_bool, bool),
}


def _cast(dtype: FeatureType) -> Cast:
    return _CASTS.get(dtype, _keep)


def _encode_keys(columns: Sequence[list[Any]], int_key: bool) -> list[str]:
    """Store keys, exactly as :func:`~griffin.features.online.encode_entity_key` makes them."""
    try:
        if len(columns) == 1:
            if int_key:
                # The same text orjson writes for an int; None gives a key that never exists.
                return [f"[{v}]" for v in columns[0]]
            dumps = orjson.dumps
            return [dumps((v,)).decode() for v in columns[0]]
        return [orjson.dumps(row).decode() for row in zip(*columns, strict=True)]
    except TypeError as exc:
        raise InvalidArgument(f"entity key cannot be encoded: {exc}") from None


# --- entity rows and request data ---------------------------------------------------------


def _as_list(values: Any) -> list[Any]:
    if type(values) is list:
        return values
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        return [values]  # a scalar: one row
    tolist = getattr(values, "tolist", None)  # numpy arrays, pandas series
    if callable(tolist):
        out: list[Any] = tolist()
        return out
    to_pylist = getattr(values, "to_pylist", None)  # Arrow arrays
    if callable(to_pylist):
        out = to_pylist()
        return out
    return list(values)


def _entity_columns(rows: EntityRows, wanted: Sequence[str]) -> dict[str, list[Any]]:
    """The ``wanted`` columns (those present) of any supported entity-rows shape."""
    if type(rows) is dict or isinstance(rows, Mapping):
        return {name: _as_list(rows[name]) for name in wanted if name in rows}
    if isinstance(rows, list | tuple):
        if not all(isinstance(row, Mapping) for row in rows):
            raise InvalidArgument(
                "entity_rows must be a dict of column -> list, a list of dicts, a pandas "
                "DataFrame or an Arrow table",
                details={"field": "entity_rows"},
            )
        present = [name for name in wanted if rows and name in rows[0]]
        columns: dict[str, list[Any]] = {}
        for name in present:
            try:
                columns[name] = [row[name] for row in rows]
            except KeyError:
                index = next(i for i, row in enumerate(rows) if name not in row)
                raise InvalidArgument(
                    f"entity row {index} has no {name!r}, which row 0 has",
                    details={"field": name},
                ) from None
        return columns
    names = getattr(rows, "column_names", None)  # pyarrow.Table
    if names is None:
        names = getattr(rows, "columns", None)  # pandas.DataFrame
    if names is None:
        raise InvalidArgument(
            f"entity_rows of type {type(rows).__name__} are not supported: pass a dict of "
            "column -> list, a list of dicts, a pandas DataFrame or an Arrow table",
            details={"field": "entity_rows"},
        )
    present_names = set(map(str, names))
    if hasattr(rows, "column_names"):
        return {n: rows.column(n).to_pylist() for n in wanted if n in present_names}
    return {n: rows[n].tolist() for n in wanted if n in present_names}


def _given_names(rows: EntityRows) -> list[str]:
    if isinstance(rows, Mapping):
        return [str(k) for k in rows]
    if isinstance(rows, list | tuple):
        return [str(k) for k in rows[0]] if rows and isinstance(rows[0], Mapping) else []
    names = getattr(rows, "column_names", None)
    return [str(n) for n in (names if names is not None else getattr(rows, "columns", []))]


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ViewPlan:
    storage: str
    keys: tuple[int, ...]  # indexes into _Plan.join_keys, in the view's join-key order
    positions: tuple[int, ...]  # where each wanted feature sits in a record
    columns: tuple[str, ...]
    missing: tuple[Any, ...]  # the record of an entity that has none: every feature's default
    pick: Callable[[Sequence[Any]], Sequence[Any]]  # the wanted columns of the transposed values


@dataclass(frozen=True, slots=True)
class _Plan:
    selection: Selection
    join_keys: tuple[str, ...]
    key_casts: tuple[Cast, ...]
    key_groups: tuple[tuple[int, ...], ...]  # distinct join-key tuples, encoded once each
    views: tuple[tuple[int, _ViewPlan], ...]  # (key group, view)
    request_fields: Mapping[str, FeatureType]
    wanted: tuple[str, ...]  # the entity-row columns read: join keys, then request fields
    encoders: tuple[tuple[tuple[int, ...], bool], ...]  # per key group: its keys, int-only
    storages: tuple[tuple[str, int], ...]  # per view: its storage name and key group
    on_demand: bool
    output: tuple[str, ...]
    reorder: bool  # whether the read order differs from the output order
    types: Mapping[str, FeatureType]
    computed: frozenset[str]


def _compile(selection: Selection, udf_hint: str) -> _Plan:
    for on_demand in selection.on_demand:
        if on_demand.view.udf is None:
            raise NotSupported(
                f"on-demand feature view {on_demand.name!r} was rebuilt from the registry and has "
                f"no function to run here; {udf_hint}",
                details={"view": on_demand.name},
            )
    join_keys = selection.join_keys
    types: dict[str, FeatureType] = {}
    for part in selection.views:
        for entity in part.view.entities:
            for key in entity.join_keys:
                types.setdefault(key, entity.dtypes[key])
    groups: dict[tuple[int, ...], int] = {}
    views: list[tuple[int, _ViewPlan]] = []
    read_order: list[str] = list(join_keys)
    for part in selection.views:
        view = part.view
        keys = tuple(join_keys.index(k) for k in view.join_keys)
        group = groups.setdefault(keys, len(groups))
        names = view.feature_names
        plan = _ViewPlan(
            storage=storage_name(view),
            keys=keys,
            positions=tuple(names.index(f) for f in part.features),
            columns=part.columns,
            missing=tuple(f.default for f in view.features),
            pick=_picker(tuple(names.index(f) for f in part.features), len(names)),
        )
        views.append((group, plan))
        read_order.extend(part.columns)
        for feature, column in zip(part.features, part.columns, strict=True):
            types[column] = view.feature(feature).dtype
    computed: set[str] = set()
    for computed_part in selection.on_demand:
        outputs = {f.name: f.dtype for f in computed_part.view.features}
        for feature, column in zip(computed_part.features, computed_part.columns, strict=True):
            types[column] = outputs[feature]
            computed.add(column)
    output = (*join_keys, *selection.columns)
    return _Plan(
        selection=selection,
        join_keys=join_keys,
        key_casts=tuple(_cast(types[k]) for k in join_keys),
        key_groups=tuple(groups),
        views=tuple(views),
        request_fields=dict(selection.request_fields),
        wanted=(*join_keys, *selection.request_fields),
        encoders=tuple(
            (g, len(g) == 1 and types[join_keys[g[0]]] in (FeatureType.INT64, FeatureType.INT32))
            for g in groups
        ),
        storages=tuple((view.storage, group) for group, view in views),
        on_demand=bool(selection.on_demand),
        output=output,
        reorder=tuple(read_order) != output,
        types=types,
        computed=frozenset(computed),
    )


def _picker(positions: tuple[int, ...], width: int) -> Callable[[Sequence[Any]], Sequence[Any]]:
    if positions == tuple(range(width)):
        return _whole
    if len(positions) == 1:
        one = positions[0]
        return lambda values: (values[one],)
    getter: Callable[[Sequence[Any]], Sequence[Any]] = operator.itemgetter(*positions)
    return getter


def _whole(values: Sequence[Any]) -> Sequence[Any]:
    return values


def _cache_key(features: FeatureRefs, full_names: bool) -> Any:
    if isinstance(features, str):
        return features, full_names
    key: tuple[Any, bool] = (
        (tuple(features), full_names)
        if isinstance(features, list | tuple)
        else (features, full_names)
    )
    try:
        hash(key)
    except TypeError:
        return None  # e.g. a FeatureService object: resolved on every call
    return key


class OnlineReader:
    """Reads online features of some entities for one set of definitions and one store.

    Thread-safe; share one per process. Resolved requests are cached (up to 256 distinct
    ``features`` arguments), so build a new reader when the definitions change.

    Args:
        definitions: where feature names are looked up. On-demand views run only if they
            carry their function (your project's definitions, not the registry's alone).
        store: the online store to read.
        udf_hint: what to tell a caller whose on-demand view has no function here.
    """

    def __init__(
        self,
        definitions: Definitions,
        store: OnlineStore,
        *,
        udf_hint: str = "pass your project's definitions to run it",
    ) -> None:
        self.definitions = definitions
        self.store = store
        self.udf_hint = udf_hint
        self._plans: dict[Any, _Plan] = {}
        self._lock = threading.Lock()

    def selection(self, features: FeatureRefs, *, full_names: bool = False) -> Selection:
        """The resolved request (cached): views, on-demand views and output columns."""
        return self._plan(features, full_names).selection

    def _plan(self, features: FeatureRefs, full_names: bool) -> _Plan:
        key = _cache_key(features, full_names)
        if key is not None:
            found = self._plans.get(key)
            if found is not None:
                return found
        plan = _compile(self._select(features, full_names), self.udf_hint)
        if key is not None:
            with self._lock:
                if len(self._plans) >= _CACHE_SIZE:
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = plan
        return plan

    def _select(self, features: FeatureRefs, full_names: bool) -> Selection:
        if isinstance(features, str) and ":" not in features:
            services = {s.name for s in self.definitions.services}
            views = {v.name for v in self.definitions.feature_views}
            views |= {v.name for v in self.definitions.on_demand_views}
            if features not in services and features in views:
                features = [features]  # a whole view, not a service
        return select(self.definitions, features, full_names=full_names)

    def _prepare(
        self,
        features: FeatureRefs,
        entity_rows: EntityRows,
        request_data: Mapping[str, Any] | None,
        full_names: bool,
    ) -> tuple[_Plan, list[list[Any]], int, dict[str, list[Any]], list[ViewRead]]:
        plan = self._plan(features, full_names)
        columns = _entity_columns(entity_rows, plan.wanted) if entity_rows is not None else {}
        keys: list[list[Any]] = []
        for name, cast in zip(plan.join_keys, plan.key_casts, strict=True):
            values = columns.get(name)
            if values is None:
                raise _missing_key(name, plan.join_keys, entity_rows)
            keys.append(cast(values, name))
        n = len(keys[0]) if keys else _request_rows(request_data, columns)
        if len(keys) > 1:
            for name, values in zip(plan.join_keys, keys, strict=True):
                if len(values) != n:
                    raise InvalidArgument(
                        f"entity column {name!r} has {len(values)} values, "
                        f"{plan.join_keys[0]!r} has {n}; give every column one value per row",
                        details={"field": name},
                    )
        request = _request_columns(plan, columns, request_data, n) if plan.request_fields else {}
        encoded = [_encode_keys([keys[i] for i in group], ints) for group, ints in plan.encoders]
        reads = [ViewRead(storage, encoded[group]) for storage, group in plan.storages]
        return plan, keys, n, request, reads

    def read(
        self,
        features: FeatureRefs,
        entity_rows: EntityRows,
        request_data: Mapping[str, Any] | None = None,
        *,
        full_names: bool = False,
    ) -> OnlineResult:
        """The latest values of ``features`` for each entity row, in one store round trip.

        Args:
            features: a feature service name, or a list of ``"view:feature"``, ``"view"``
                and on-demand view names (objects work too; see :func:`select`).
            entity_rows: the join keys (and request fields) per row: a dict of column ->
                list (fastest), a list of dicts, a pandas DataFrame or an Arrow table.
                Values are cast to the entities' declared types (``"7"`` to ``7``).
            request_data: request fields for on-demand views: field -> a value for every row,
                or a list with one value per row.
            full_names: name feature columns ``view__feature``.

        Raises:
            InvalidArgument: an unknown feature (with the closest names), a missing join key
                or request field, a value that does not fit its type.
            NotSupported: an on-demand view without its function (see ``udf_hint``).
            BackendUnavailable: the store cannot be reached.
        """
        plan, keys, n, request, reads = self._prepare(
            features, entity_rows, request_data, full_names
        )
        found = self.store.read_values(reads) if reads else []
        return _assemble(plan, keys, n, request, found)

    async def aread(
        self,
        features: FeatureRefs,
        entity_rows: EntityRows,
        request_data: Mapping[str, Any] | None = None,
        *,
        full_names: bool = False,
    ) -> OnlineResult:
        """Async twin of :meth:`read`: the store is read without blocking the event loop."""
        plan, keys, n, request, reads = self._prepare(
            features, entity_rows, request_data, full_names
        )
        found = await self.store.aread_values(reads) if reads else []
        return _assemble(plan, keys, n, request, found)


def _missing_key(name: str, join_keys: Sequence[str], rows: EntityRows) -> InvalidArgument:
    given = _given_names(rows) if rows is not None else []
    close = difflib.get_close_matches(name, given, n=1, cutoff=0.6)
    hint = f" (there is {close[0]!r}: a typo?)" if close else ""
    return InvalidArgument(
        f"entity rows have no join key {name!r}{hint}; these features are keyed by "
        f"{', '.join(map(repr, join_keys))}",
        details={"field": name, "close_matches": close},
    )


def _request_rows(request_data: Mapping[str, Any] | None, columns: Mapping[str, list[Any]]) -> int:
    for values in (*columns.values(), *(request_data or {}).values()):
        if isinstance(values, list | tuple):
            return len(values)
    return 1


def _request_columns(
    plan: _Plan,
    columns: Mapping[str, list[Any]],
    request_data: Mapping[str, Any] | None,
    n: int,
) -> dict[str, list[Any]]:
    data = request_data or {}
    out: dict[str, list[Any]] = {}
    for name, dtype in plan.request_fields.items():
        if name in data:
            value = data[name]
            values = (
                _as_list(value)
                if isinstance(value, list | tuple) or hasattr(value, "tolist")
                else [value] * n
            )
        elif name in columns:
            values = columns[name]
        else:
            raise InvalidArgument(
                f"request field {name!r} is missing: the on-demand features asked for need it; "
                "pass it in request_data (or as an entity column)",
                details={"field": name},
            )
        if len(values) != n:
            raise InvalidArgument(
                f"request field {name!r} has {len(values)} values for {n} entity rows",
                details={"field": name},
            )
        out[name] = _cast(dtype)(values, name)
    return out


def _assemble(
    plan: _Plan,
    keys: list[list[Any]],
    n: int,
    request: dict[str, list[Any]],
    found: list[list[tuple[Any, ...] | None]],
) -> OnlineResult:
    out: dict[str, list[Any]] = dict(zip(plan.join_keys, keys, strict=False))
    for (_, view), records in zip(plan.views, found, strict=False):
        if not n:
            for column in view.columns:
                out[column] = []
            continue
        missing = view.missing
        try:
            # One C-level transpose of the records (absent entities get the defaults' row),
            # then the wanted columns picked by position: no Python loop per value.
            values = tuple(zip(*[missing if r is None else r for r in records], strict=True))
            out.update(zip(view.columns, map(list, view.pick(values)), strict=True))
        except (ValueError, IndexError):
            raise InvalidArgument(
                f"online records under {view.storage!r} do not match the view's layout; "
                "materialize the view again"
            ) from None
    if plan.on_demand:
        _run_on_demand(plan, out, request, n)
    if plan.reorder:
        out = {name: out[name] for name in plan.output}
    return OnlineResult(out, plan.types, plan.computed)


def _run_on_demand(
    plan: _Plan, out: dict[str, list[Any]], request: dict[str, list[Any]], n: int
) -> None:
    import pandas as pd

    inputs = {c: out[c] for _, view in plan.views for c in view.columns}
    frame = pd.DataFrame({**inputs, **request}, index=pd.RangeIndex(n))
    frame = plan.selection.finish(frame)  # the same call as training data: no skew
    for part in plan.selection.on_demand:
        for column in part.columns:
            if column in frame.columns:
                out[column] = frame[column].tolist()
    for column in plan.selection.hidden:
        out.pop(column, None)


# --- definitions from the registry (server side) --------------------------------------------


def registry_definitions(db: Database, principal: Principal, project: str) -> Definitions:
    """The project's registered definitions, rebuilt as objects (on-demand views unrunnable)."""
    from . import registry

    return Definitions.from_specs(o.spec for o in registry.list_objects(db, principal, project))


class ProjectReaders:
    """One :class:`OnlineReader` per project, built from the registry and kept ``ttl_s``.

    Registry reads are cheap but not free: a server reads each project's definitions at most
    once per ``ttl_s`` (and once more when a request names something unknown, so a fresh
    ``apply`` is served at once).

    Args:
        db: the metadata database.
        store: the online store.
        local: definitions that take precedence over the registry's (their on-demand views
            can run); see ``griffin features serve --definitions``.
        ttl_s: how long a project's definitions are reused.
    """

    def __init__(
        self,
        db: Database,
        store: OnlineStore,
        *,
        local: Definitions | None = None,
        ttl_s: float = 5.0,
        udf_hint: str = "start the feature server with `griffin features serve --definitions "
        "PATH` to run on-demand views",
    ) -> None:
        self.db = db
        self.store = store
        self.local = local
        self.ttl_s = ttl_s
        self.udf_hint = udf_hint
        self._readers: dict[str, tuple[float, OnlineReader]] = {}

    def cached(self, principal: Principal, project: str) -> OnlineReader | None:
        """The project's reader if it is fresh (no I/O); checks the caller may read."""
        principal.require(Role.VIEWER, project)
        entry = self._readers.get(project)
        if entry is not None and time.monotonic() - entry[0] < self.ttl_s:
            return entry[1]
        return None

    def load(self, principal: Principal, project: str) -> OnlineReader:
        """Read the project's definitions from the registry and keep a new reader."""
        definitions = registry_definitions(self.db, principal, project)
        if self.local is not None:
            definitions = overlay(definitions, self.local)
        reader = OnlineReader(definitions, self.store, udf_hint=self.udf_hint)
        self._readers[project] = (time.monotonic(), reader)
        return reader

    def stale_after_unknown(self, project: str, exc: InvalidArgument) -> bool:
        """Whether ``exc`` names an unknown name and the definitions are worth reloading."""
        entry = self._readers.get(project)
        return is_unknown_name(exc) and (entry is None or time.monotonic() - entry[0] > 1.0)

    def read(self, principal: Principal, project: str, request: OnlineRequest) -> OnlineResult:
        """Serve one request (sync), reloading the definitions when stale or outdated."""
        reader = self.cached(principal, project) or self.load(principal, project)
        try:
            return request.read(reader)
        except InvalidArgument as exc:
            if not self.stale_after_unknown(project, exc):
                raise
        return request.read(self.load(principal, project))

    async def aread(
        self,
        principal: Principal,
        project: str,
        request: OnlineRequest,
        *,
        blocking_store: bool = False,
    ) -> OnlineResult:
        """Async twin of :meth:`read`: registry reads go to a worker thread, only when due.

        ``blocking_store`` reads the store with its sync client on the event loop: for a
        process that only serves reads this is faster (redis-py's asyncio client costs more
        CPU per command than the round trip it waits for); scale such a server with workers.
        """
        import anyio.to_thread

        reader = self.cached(principal, project)
        if reader is None:
            reader = await anyio.to_thread.run_sync(self.load, principal, project)
        for attempt in (1, 2):
            try:
                if blocking_store:
                    return request.read(reader)
                return await request.aread(reader)
            except InvalidArgument as exc:
                if attempt == 2 or not self.stale_after_unknown(project, exc):
                    raise
            reader = await anyio.to_thread.run_sync(self.load, principal, project)
        raise AssertionError("unreachable")  # pragma: no cover


def is_unknown_name(exc: InvalidArgument) -> bool:
    """Whether ``exc`` says a view, feature or service name is unknown (see ``unknown_name``)."""
    return "close_matches" in exc.details and "name" in exc.details


@dataclass(frozen=True, slots=True)
class OnlineRequest:
    """One online read, as the REST route and the feature server receive it."""

    features: FeatureRefs
    entities: Mapping[str, Any]
    request_data: Mapping[str, Any] | None = None
    full_names: bool = False

    def read(self, reader: OnlineReader) -> OnlineResult:
        return reader.read(
            self.features, self.entities, self.request_data, full_names=self.full_names
        )

    async def aread(self, reader: OnlineReader) -> OnlineResult:
        return await reader.aread(
            self.features, self.entities, self.request_data, full_names=self.full_names
        )
