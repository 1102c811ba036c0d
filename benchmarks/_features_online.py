"""The online half of the feature-store benchmark: materialization, online reads, HTTP server.

Each step measures Griffin's public path (``client.materialize``,
``client.get_online_features``, ``griffin features serve``) next to the limit: the least a
hand-written program must do against the same Redis with redis-py.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgpack
import redis
from _features_common import (
    FEAST_REFERENCE,
    ONLINE_VIEW,
    REDIS_URL,
    Report,
    Row,
    best_of,
    percentiles,
    say,
)
from _features_data import FEATURES, KEY, Dataset, DataSizes

CHUNK = 10_000
BATCHES = (1, 10, 100)


def _view() -> Any:
    """The benchmark view as Griffin stores it (for its storage name)."""
    from griffin.features.definitions import Entity, Feature, FeatureView
    from griffin.features.sources import ParquetSource

    driver = Entity("driver", [KEY], dtype="int64")
    return FeatureView(
        ONLINE_VIEW,
        [driver],
        [Feature(name, "float64") for name in FEATURES],
        ParquetSource("unused", "event_timestamp", created_timestamp_field="created"),
    )


def raw_materialize(data: Dataset, r: redis.Redis, prefix: str) -> int:
    """The limit: DuckDB latest row per key, then a redis-py pipeline of SETs per chunk."""
    import duckdb

    con = duckdb.connect()
    try:
        columns = ", ".join(FEATURES)
        table = con.sql(
            f"SELECT {KEY}, epoch_us(event_timestamp) AS ts, {columns} "
            f"FROM read_parquet('{data.features}') "
            f"QUALIFY row_number() OVER (PARTITION BY {KEY} "
            f"ORDER BY event_timestamp DESC, created DESC) = 1"
        ).arrow()
        table = table.read_all() if hasattr(table, "read_all") else table
    finally:
        con.close()
    keys = table.column(KEY).to_pylist()
    stamps = table.column("ts").to_pylist()
    values = [table.column(f).to_pylist() for f in FEATURES]
    pack = msgpack.packb
    written = 0
    for start in range(0, len(keys), CHUNK):
        pipe = r.pipeline(transaction=False)
        for i in range(start, min(start + CHUNK, len(keys))):
            pipe.set(f"{prefix}raw:[{keys[i]}]", pack([stamps[i], *[v[i] for v in values]]))
        written += len(pipe.execute())
    return written


def bench_materialize(client: Any, data: Dataset, reps: int, prefix: str, report: Report) -> None:
    from griffin.features.online import open_online_store
    from griffin.features.selection import storage_name

    name = storage_name(_view())
    r = redis.Redis.from_url(REDIS_URL)

    def griffin_run() -> Any:
        with open_online_store(client.settings.resolved_online_store) as store:
            store.delete_view(name)  # every rep writes into an empty namespace, as raw does
        return client.materialize([ONLINE_VIEW])

    def raw_run() -> int:
        _delete(r, f"{prefix}raw:*")
        return raw_materialize(data, r, prefix)

    if reps == 0:
        say("materialize (not measured, needed by the online steps)")
        griffin_run()
        return
    say("materialize: raw DuckDB + redis-py pipeline")
    raw_s, raw_n = best_of(raw_run, reps)
    say("materialize: client.materialize")
    griffin_s, results = best_of(griffin_run, reps)
    _delete(r, f"{prefix}raw:*")
    rows = results[0].rows
    if rows != raw_n:
        report.notes.append(f"materialize wrote {rows} entities, raw wrote {raw_n}")
    report.rows.append(
        Row(
            "materialize to Redis",
            griffin_s,
            raw_s,
            "s",
            1.3,
            FEAST_REFERENCE["materialize"],
            f"{rows:,} entities, checks and state included",
        )
    )


def _delete(r: redis.Redis, pattern: str) -> None:
    batch: list[bytes] = []
    for key in r.scan_iter(match=pattern, count=10_000):
        batch.append(key)
        if len(batch) >= 10_000:
            r.unlink(*batch)
            batch.clear()
    if batch:
        r.unlink(*batch)


def bench_online(client: Any, sizes: DataSizes, calls: int, prefix: str, report: Report) -> None:
    from griffin.features.selection import storage_name

    name = storage_name(_view())
    r = redis.Redis.from_url(REDIS_URL)
    rng = random.Random(11)
    refs = [f"{ONLINE_VIEW}:{f}" for f in FEATURES]
    for batch in BATCHES:
        id_sets = [rng.sample(range(sizes.entities), batch) for _ in range(calls)]
        raw_keys = [[f"{prefix}{name}:[{i}]" for i in ids] for ids in id_sets]
        say(f"online reads, {batch} entities: client.get_online_features and raw MGET")
        for i in range(min(100, calls)):  # warm-up: connections, caches
            r.mget(raw_keys[i])
            client.get_online_features(refs, {KEY: id_sets[i]})
        # Interleaved, one call of each per round, so drift in the machine's load hits both.
        raw: list[float] = []
        ours: list[float] = []
        result: Any = None
        for keys, ids in zip(raw_keys, id_sets, strict=True):
            start = time.perf_counter()
            r.mget(keys)
            middle = time.perf_counter()
            result = client.get_online_features(refs, {KEY: ids})
            ours.append(time.perf_counter() - middle)
            raw.append(middle - start)
        values = result.to_dict()[FEATURES[0]]
        if any(v is None for v in values):
            report.notes.append(f"online batch {batch}: some entities came back empty")
        g50, g99 = percentiles(ours)
        r50, r99 = percentiles(raw)
        report.rows.append(
            Row(
                f"online read p50, {batch} entit{'y' if batch == 1 else 'ies'}",
                g50,
                r50,
                "ms",
                1.3,
                FEAST_REFERENCE[f"online_{batch}"],
                f"p99 {g99 * 1000:.3f} ms vs raw {r99 * 1000:.3f} ms over {calls} calls",
            )
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: bytes) -> bytes:
    headers = {"content-type": "application/json"} if body else {}
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:500]!r}")
    return data


def bench_http(client: Any, calls: int, report: Report) -> None:
    """``griffin features serve`` in its own process, one entity per request, keep-alive.

    The client is the standard library's ``http.client`` on one kept-alive connection: its
    own cost is small (httpx adds about half a millisecond per request here), so the figure
    is mostly the server's. The limit is ``GET /healthz`` on the same connection: what any
    HTTP answer costs this client and server stack.
    """
    port = _free_port()
    griffin = Path(sys.executable).parent / "griffin"
    server = subprocess.Popen(
        [str(griffin), "features", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(conn, "GET", "/healthz", b"")
                break
            except (OSError, RuntimeError, http.client.HTTPException):
                conn.close()
            if server.poll() is not None or time.monotonic() > deadline:
                err = server.stderr.read().decode() if server.stderr else ""
                raise RuntimeError(f"griffin features serve did not start: {err[-2000:]}")
            time.sleep(0.2)
        path = f"/api/v1/projects/{client.project}/features/online"
        features = [f"{ONLINE_VIEW}:{f}" for f in FEATURES]
        rng = random.Random(5)
        bodies = [
            json.dumps({"features": features, "entities": {KEY: [rng.randrange(1000)]}}).encode()
            for _ in range(calls)
        ]
        for body in bodies[:100]:  # warm-up: definitions cache, connections
            _request(conn, "POST", path, body)
        answer = json.loads(_request(conn, "POST", path, bodies[0]))
        if answer["columns"][FEATURES[0]][0] is None:
            report.notes.append("http: the served entity came back empty")
        samples: list[float] = []
        for body in bodies:
            start = time.perf_counter()
            _request(conn, "POST", path, body)
            samples.append(time.perf_counter() - start)
        say("http: baseline round trip (GET /healthz)")
        floor: list[float] = []
        for _ in range(calls):
            start = time.perf_counter()
            _request(conn, "GET", "/healthz", b"")
            floor.append(time.perf_counter() - start)
    finally:
        conn.close()
        server.terminate()
        server.wait(timeout=10)
    p50, p99 = percentiles(samples)
    f50, _ = percentiles(floor)
    report.rows.append(
        Row(
            "HTTP feature server p50, 1 entity",
            p50,
            f50,
            "ms",
            None,
            FEAST_REFERENCE["http_1"],
            f"p99 {p99 * 1000:.3f} ms; target p50 < 1 ms: "
            f"{'met' if p50 < 0.001 else 'MISSED'}; limit = GET /healthz on the same "
            f"connection ({calls} calls, http.client keep-alive)",
        )
    )
