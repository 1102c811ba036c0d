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


values = st.one_of(st.floats(-1e6, 1e6), st.none())  # null feature values stay null
view_rows = st.lists(st.tuples(keys, seconds, st.one_of(st.integers(0, 5), st.none()), values))


@settings(max_examples=60, deadline=None)
@given(
    entities=st.lists(st.tuples(keys, keys, st.one_of(seconds, st.none())), max_size=20),
    drivers=view_rows.map(lambda rows: rows[:25]),
    riders=view_rows.map(lambda rows: rows[:25]),
    ttls=st.tuples(
        st.one_of(st.none(), st.integers(1, 20)), st.one_of(st.none(), st.integers(1, 20))
    ),
    default=st.one_of(st.none(), st.just(-7.5)),
    split=st.integers(0, 25),
)
def test_two_views_with_different_entities_from_parquet_files(
    tmp_path_factory: Any,
    entities: list[tuple[int, int, int | None]],
    drivers: list[tuple[int, int, int | None, float | None]],
    riders: list[tuple[int, int, int | None, float | None]],
    ttls: tuple[int | None, int | None],
    default: float | None,
    split: int,
) -> None:
    import pyarrow.parquet as pq

    folder = tmp_path_factory.mktemp("views")
    entity_table = pa.table(
        {
            "driver": pa.array([d for d, _, _ in entities], pa.int64()),
            "rider": pa.array([r for _, r, _ in entities], pa.int64()),
            "event_timestamp": pa.array([at(t) for _, _, t in entities], TS),
        }
    )
    inputs = []
    for name, rows, ttl in (("driver", drivers, ttls[0]), ("rider", riders, ttls[1])):
        table = pa.table(
            {
                name: pa.array([r[0] for r in rows], pa.int64()),
                "ts": pa.array([at(r[1]) for r in rows], TS),
                "created": pa.array([at(r[2]) for r in rows], TS),
                f"{name}_value": pa.array([r[3] for r in rows], pa.float64()),
            }
        )
        # Two files (a late-arriving part sorts after the first): ties between them go to
        # the later file, as the reference's position order says.
        (folder / name).mkdir()
        cut = min(split, table.num_rows)
        pq.write_table(table.slice(0, cut), folder / name / "part-0.parquet")
        pq.write_table(table.slice(cut), folder / name / "part-1.parquet")
        inputs.append(
            ViewInput(
                name,
                [name],
                [f"{name}_value"],
                "ts",
                str(folder / name / "*.parquet"),
                created_timestamp_field="created",
                ttl=None if ttl is None else timedelta(seconds=ttl),
                defaults=[default],
            )
        )
    result = point_in_time_join(entity_table, inputs)
    for index, (name, rows, ttl) in enumerate(
        (("driver", drivers, ttls[0]), ("rider", riders, ttls[1]))
    ):
        wanted = reference([(e[index], e[2]) for e in entities], list(rows), ttl, None)
        matched = _matched([(e[index], e[2]) for e in entities], list(rows), ttl)
        expected = [w if m else default for w, m in zip(wanted, matched, strict=True)]
        assert result.column(f"{name}_value").to_pylist() == expected


def _matched(
    entities: list[tuple[int, int | None]],
    features: list[tuple[int, int, int | None, float | None]],
    ttl: int | None,
) -> list[bool]:
    """Whether each entity row has a fresh feature row at all (defaults fill the rest)."""
    return [
        event is not None
        and any(
            fkey == key and ts <= event and (ttl is None or event - ttl < ts)
            for fkey, ts, _, _ in features
        )
        for key, event in entities
    ]
