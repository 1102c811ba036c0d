"""Online/offline skew: do served values equal what training data would say for them?

For a sample of a view's entities, the online record (what a model is served) is compared with
the offline point-in-time value as of now (what a training set built now would contain), both
read through the same code as serving and training. Each entity lands in one bucket:

- ``match``: same event time and the same values;
- ``value_mismatch``: same event time, different values: real drift, e.g. a transformation
  that differs between the two paths, or a source rewritten after materialization;
- ``online_stale``: offline has a newer row than online, or online has none: materialization
  is behind (run ``griffin features materialize --incremental``);
- ``online_only``: online holds a row that offline history cannot produce (e.g. pushed rows
  whose offline log was lost, or a source whose history was deleted);
- ``absent``: neither side has a live value (no data, or expired by the TTL on both sides).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from griffin.errors import InvalidArgument

from .definitions import FeatureView
from .offline.duckdb import point_in_time_join
from .offline.inputs import ViewInput, quote
from .offline.reader import source_clause, view_data
from .online import OnlineStore, ViewRead, encode_entity_key
from .project import Definitions
from .selection import storage_name

__all__ = ["BUCKETS", "SkewExample", "SkewReport", "check_skew"]

BUCKETS = ("match", "value_mismatch", "online_stale", "online_only", "absent")
_EXAMPLES = 5
_TS = "__griffin_offline_ts"


@dataclass(frozen=True)
class SkewExample:
    """One disagreeing entity: its key, which feature, and the two sides' values."""

    bucket: str
    entity: str
    feature: str | None
    online: Any
    offline: Any
    online_ts: datetime | None
    offline_ts: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "entity": self.entity,
            "feature": self.feature,
            "online": _jsonable(self.online),
            "offline": _jsonable(self.offline),
            "online_ts": None if self.online_ts is None else self.online_ts.isoformat(),
            "offline_ts": None if self.offline_ts is None else self.offline_ts.isoformat(),
        }


@dataclass(frozen=True)
class SkewReport:
    """What :func:`check_skew` found for one view.

    Attributes:
        counts: entities per bucket (see the module docstring).
        feature_mismatches: per feature, how many entities disagree on it.
    """

    view: str
    sampled: int
    as_of: datetime
    counts: Mapping[str, int]
    feature_mismatches: Mapping[str, int]
    examples: Sequence[SkewExample] = field(default_factory=tuple)

    @property
    def drift(self) -> int:
        """Entities whose values disagree (value mismatches and online-only rows)."""
        return self.counts["value_mismatch"] + self.counts["online_only"]

    @property
    def ok(self) -> bool:
        """No drift and nothing stale: online serves exactly what training would see."""
        return self.drift == 0 and self.counts["online_stale"] == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "sampled": self.sampled,
            "as_of": self.as_of.isoformat(),
            "ok": self.ok,
            "counts": dict(self.counts),
            "feature_mismatches": dict(self.feature_mismatches),
            "examples": [e.to_json() for e in self.examples],
        }


def check_skew(
    definitions: Definitions,
    view_name: str,
    store: OnlineStore,
    *,
    project: str,
    offline_root: str,
    sample: int = 1000,
    seed: int = 0,
    now: datetime | None = None,
    rel_tol: float = 1e-9,
) -> SkewReport:
    """Compare online and offline values of ``view_name`` for ``sample`` of its entities.

    Entities are drawn from the view's offline source, deterministically for a given
    ``seed``. Floats agree within ``rel_tol``; NaN equals NaN.

    Raises:
        InvalidArgument: an unknown view (with the closest names), or ``sample`` below 1.
        BackendUnavailable: the online store cannot be reached.
    """
    if sample < 1:
        raise InvalidArgument(f"sample must be at least 1, got {sample}")
    view = definitions.get("feature_view", view_name)
    assert isinstance(view, FeatureView)
    as_of = (now or datetime.now(UTC)).astimezone(UTC)
    data = view_data(view.source, offline_root=offline_root, project=project, view=view.name)
    keys = _sample_keys(view, data, sample, seed)
    entity_rows = keys.append_column(
        "event_timestamp", pa.array([as_of] * keys.num_rows, pa.timestamp("us", tz="UTC"))
    )
    offline = point_in_time_join(
        entity_rows,
        [
            ViewInput(
                view.name,
                view.join_keys,
                [*view.feature_names, view.source.timestamp_field],
                view.source.timestamp_field,
                data,
                created_timestamp_field=view.source.created_timestamp_field,
                ttl=view.ttl,
                output_names=[*view.feature_names, _TS],
            )
        ],
    )
    key_values = list(zip(*(keys.column(k).to_pylist() for k in view.join_keys), strict=True))
    entity_keys = [encode_entity_key(k) for k in key_values]
    online = store.read([ViewRead(storage_name(view), entity_keys)])[0]
    columns = {f: offline.column(f).to_pylist() for f in view.feature_names}
    offline_ts = [_us(t) for t in offline.column(_TS).to_pylist()]
    counts = dict.fromkeys(BUCKETS, 0)
    per_feature = dict.fromkeys(view.feature_names, 0)
    examples: list[SkewExample] = []

    def note(example: SkewExample) -> None:
        if sum(1 for e in examples if e.bucket == example.bucket) < _EXAMPLES:
            examples.append(example)

    for i, key in enumerate(entity_keys):
        record = online[i]
        off_ts = offline_ts[i]
        if record is None and off_ts is None:
            counts["absent"] += 1
            continue
        on_dt = None if record is None else _dt(record.event_ts_us)
        off_dt = None if off_ts is None else _dt(off_ts)
        if record is None or (off_ts is not None and record.event_ts_us < off_ts):
            counts["online_stale"] += 1
            note(SkewExample("online_stale", key, None, None, None, on_dt, off_dt))
            continue
        if off_ts is None or record.event_ts_us > off_ts:
            counts["online_only"] += 1
            note(SkewExample("online_only", key, None, None, None, on_dt, off_dt))
            continue
        differs = False
        for position, feature in enumerate(view.feature_names):
            served = record.values[position] if position < len(record.values) else None
            trained = columns[feature][i]
            if not _same(served, trained, rel_tol):
                differs = True
                per_feature[feature] += 1
                note(SkewExample("value_mismatch", key, feature, served, trained, on_dt, off_dt))
        counts["value_mismatch" if differs else "match"] += 1
    return SkewReport(
        view=view.name,
        sampled=len(entity_keys),
        as_of=as_of,
        counts=counts,
        feature_mismatches={f: n for f, n in per_feature.items() if n},
        examples=tuple(examples),
    )


def _sample_keys(view: FeatureView, data: Any, sample: int, seed: int) -> pa.Table:
    """Up to ``sample`` distinct entity keys of the source, the same ones for a given seed."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        clause, _ = source_clause(con, data, "skew_source", position=False)
        keys = ", ".join(quote(k) for k in view.join_keys)
        query = (
            f"SELECT {keys} FROM (SELECT DISTINCT {keys} FROM {clause}) "
            f"ORDER BY hash({keys}, {int(seed)}), {keys} LIMIT {int(sample)}"
        )
        result = con.sql(query).arrow()
    except duckdb.Error as exc:
        raise InvalidArgument(
            f"feature view {view.name!r}: cannot sample entities: {exc}"
        ) from None
    finally:
        con.close()
    table: pa.Table = result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    return table


def _same(online: Any, offline: Any, rel_tol: float) -> bool:
    if isinstance(online, float) or isinstance(offline, float):
        if online is None or offline is None:
            return online is offline
        a, b = float(online), float(offline)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0)
    if isinstance(online, datetime) and isinstance(offline, datetime):
        return _us(online) == _us(offline)
    return bool(online == offline)


def _us(value: datetime | None) -> int | None:
    if value is None:
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _dt(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
