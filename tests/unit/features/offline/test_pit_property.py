"""The DuckDB point-in-time join equals an obviously-correct pure-Python reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from griffin.features.offline import ViewInput, point_in_time_join

BASE = datetime(2024, 1, 1, tzinfo=UTC)
TS = pa.timestamp("us", tz="UTC")


def at(seconds: int | None) -> datetime | None:
    return None if seconds is None else BASE + timedelta(seconds=seconds)


def reference(
    entities: list[tuple[int, int | None]],
    features: list[tuple[int, int, int | None, float]],
    ttl: int | None,
    cutoff: int | None,
) -> list[float | None]:
    """Loop over entity rows, filter the candidates, keep the max (ts, created, position)."""
    out: list[float | None] = []
    for key, event in entities:
        best: tuple[Any, ...] | None = None
        for position, (fkey, ts, created, value) in enumerate(features):
            if fkey != key or event is None or ts > event:
                continue
            if ttl is not None and not event - ttl < ts:
                continue
            if cutoff is not None and created is not None and created >= cutoff:
                continue
            rank = (ts, -(10**9) if created is None else created, position, value)
            if best is None or rank > best:
                best = rank
        out.append(None if best is None else best[3])
    return out


keys = st.integers(0, 3)
seconds = st.integers(0, 30)
entity_rows = st.lists(st.tuples(keys, st.one_of(seconds, st.none())), max_size=25)
feature_rows = st.lists(
    st.tuples(keys, seconds, st.one_of(st.integers(0, 5), st.none()), st.floats(-1e6, 1e6)),
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(
    entities=entity_rows,
    features=feature_rows,
    ttl=st.one_of(st.none(), st.integers(1, 20)),
    cutoff=st.one_of(st.none(), st.integers(0, 6)),
    with_created=st.booleans(),
)
def test_join_matches_reference(
    entities: list[tuple[int, int | None]],
    features: list[tuple[int, int, int | None, float]],
    ttl: int | None,
    cutoff: int | None,
    with_created: bool,
) -> None:
    if not with_created:
        features = [(k, t, None, v) for k, t, _, v in features]
        cutoff = None
    entity_table = pa.table(
        {
            "driver": pa.array([k for k, _ in entities], pa.int64()),
            "event_timestamp": pa.array([at(t) for _, t in entities], TS),
            "row": pa.array(range(len(entities)), pa.int64()),
        }
    )
    data = pa.table(
        {
            "driver": pa.array([f[0] for f in features], pa.int64()),
            "ts": pa.array([at(f[1]) for f in features], TS),
            "created": pa.array([at(f[2]) for f in features], TS),
            "value": pa.array([f[3] for f in features], pa.float64()),
        }
    )
    view = ViewInput(
        "trips",
        ["driver"],
        ["value"],
        "ts",
        data,
        created_timestamp_field="created" if with_created else None,
        ttl=None if ttl is None else timedelta(seconds=ttl),
    )
    result = point_in_time_join(
        entity_table, [view], created_before=None if cutoff is None else at(cutoff)
    )
    assert result.column("row").to_pylist() == list(range(len(entities)))
    assert result.column("value").to_pylist() == reference(entities, features, ttl, cutoff)
