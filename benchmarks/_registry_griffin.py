"""The Griffin side of the registry benchmark: seed a real server, resolve aliases, register.

Everything goes over HTTP to a ``griffin server`` process (``_servers.griffin_server``): raw
``httpx`` for the REST rows, ``griffin.Client(url)`` for the SDK rows. The server is seeded
through its own REST API (a few hundred requests), so what is measured is what a client sees.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from _common import BenchError, say
from _registry_common import THREADS, RegSizes, SideResult
from _registry_load import (
    ALIAS,
    ALIAS_VERSION,
    MODEL,
    OTHER_PREFIX,
    OTHER_VERSIONS,
    VERSIONS,
    drive,
    latency_stats,
    repeat,
)
from _servers import griffin_env, griffin_server

API = "/api/v1"
PROJECT = "default"
MODELS = f"{API}/projects/{PROJECT}/models"
JSON = {"content-type": "application/json"}
REGISTER_MODEL = "bench-register"
LOGGED_MODEL = "bench-logged"


class Api:
    """Griffin's REST API over one keep-alive httpx client; every error is a ``BenchError``."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def close(self) -> None:
        self.http.close()

    def send(self, method: str, path: str, body: object = None, expect: int = 200) -> Any:
        content = None if body is None else orjson.dumps(body)
        response = self.http.request(method, path, content=content, headers=JSON)
        if response.status_code != expect:
            raise BenchError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return orjson.loads(response.content) if response.content else None

    def create_run(self) -> str:
        body = {"experiment": "registry-bench"}
        run_id: str = self.send("POST", f"{API}/projects/{PROJECT}/runs", body, 201)["id"]
        return run_id

    def register(self, name: str, run_id: str) -> int:
        body = {"source": f"runs:/{run_id}/model", "flavor": "sklearn"}
        version: int = self.send("POST", f"{MODELS}/{name}/versions", body, 201)["version"]
        return version

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.send("PUT", f"{MODELS}/{name}/aliases/{alias}", {"version": version})


# --------------------------------------------------------------------------- seeding


def seed(api: Api, sizes: RegSizes) -> tuple[str, float, list[float]]:
    """The measured model (10 versions, ``champion`` on v7) and the other models; returns the
    run the versions point at, the seconds it took and each registration's latency."""
    t0 = time.perf_counter()
    run_id = api.create_run()
    samples: list[float] = []

    def register(name: str) -> None:
        t = time.perf_counter()
        api.register(name, run_id)
        samples.append(time.perf_counter() - t)

    for _ in range(VERSIONS):
        register(MODEL)
    api.set_alias(MODEL, ALIAS, ALIAS_VERSION)
    for i in range(sizes.other_models):
        name = f"{OTHER_PREFIX}{i:04d}"
        for _ in range(OTHER_VERSIONS):
            register(name)
        api.set_alias(name, ALIAS, 1)
    return run_id, time.perf_counter() - t0, samples


# --------------------------------------------------------------------------- alias resolution


def _rest_factory(
    url: str, path: str, etag: str | None, opened: list[httpx.Client]
) -> Callable[[], Callable[[], object]]:
    """Each load thread gets its own keep-alive connection (as a fleet of pollers would)."""
    expect = 304 if etag else 200
    headers = {"if-none-match": etag} if etag else {}

    def make() -> Callable[[], object]:
        http = httpx.Client(base_url=url, timeout=30)
        opened.append(http)

        def call() -> object:
            response = http.get(path, headers=headers)
            if response.status_code != expect:
                raise BenchError(f"GET {path}: {response.status_code}, expected {expect}")
            return response.content

        return call

    return make


def _drive_rest(
    url: str, path: str, etag: str | None, threads: int, total: int, sizes: RegSizes
) -> dict[str, Any]:
    opened: list[httpx.Client] = []
    try:
        return drive(
            _rest_factory(url, path, etag, opened),
            threads=threads,
            total=total,
            budget_s=sizes.budget_s,
        )
    finally:
        for http in opened:
            http.close()


def measure_alias(url: str, sdk: Any, settings: Any, sizes: RegSizes, out: SideResult) -> None:
    path = f"{MODELS}/{MODEL}/aliases/{ALIAS}"
    ref = f"{MODEL}@{ALIAS}"
    first = httpx.get(url + path, timeout=30)
    if first.status_code != 200 or orjson.loads(first.content)["version"] != ALIAS_VERSION:
        raise BenchError(f"GET {path}: {first.status_code} {first.text[:200]}")
    etag = first.headers.get("etag")
    if not etag:
        raise BenchError(f"GET {path} answered without an ETag")
    # The floor: the same server and HTTP stack answering GET /healthz (no database, no auth).
    for threads, total in ((1, sizes.calls_1), (THREADS, sizes.calls_8)):
        say(f"  floor: GET /healthz, {total:,} calls on {threads} thread(s)")
        out.figures[f"floor_{threads}"] = _drive_rest(url, "/healthz", None, threads, total, sizes)
    for key, tag in (("alias_rest", None), ("alias_304", etag)):
        for threads, total in ((1, sizes.calls_1), (THREADS, sizes.calls_8)):
            what = "If-None-Match (304)" if tag else "plain GET"
            say(f"  alias {what}: {total:,} calls on {threads} thread(s)")
            out.figures[f"{key}_{threads}"] = _drive_rest(url, path, tag, threads, total, sizes)
    client = sdk.Client(url=url, settings=settings)
    try:
        found = client.resolve_model(ref)
        if found.version != ALIAS_VERSION:
            raise BenchError(f"resolve_model({ref!r}) gave version {found.version}")
        for threads, total in ((1, sizes.calls_1), (THREADS, sizes.calls_8)):
            say(f"  SDK client.resolve_model: {total:,} calls on {threads} thread(s), one client")
            out.figures[f"alias_sdk_{threads}"] = drive(
                lambda: lambda: client.resolve_model(ref),
                threads=threads,
                total=total,
                budget_s=sizes.budget_s,
            )
    finally:
        client.close()

    def fresh() -> object:
        with sdk.Client(url=url, settings=settings) as new:
            return new.resolve_model(ref)

    say(f"  SDK resolve_model from a fresh client: {sizes.cold} calls")
    out.figures["uri"] = drive(lambda: fresh, threads=1, total=sizes.cold, budget_s=sizes.budget_s)


# --------------------------------------------------------------------------- registering


def measure_register(
    api: Api, url: str, sdk: Any, settings: Any, run_id: str, sizes: RegSizes, out: SideResult
) -> None:
    say(f"  registering {sizes.registers} versions over REST, then {sizes.registers} by the SDK")
    samples = repeat(lambda: api.register(REGISTER_MODEL, run_id), sizes.registers, sizes.budget_s)
    out.figures["register_rest"] = latency_stats(samples)
    client = sdk.Client(url=url, settings=settings)
    try:
        source = f"runs:/{run_id}/model"
        samples = repeat(
            lambda: client.create_model_version(REGISTER_MODEL, source, "sklearn"),
            sizes.registers,
            sizes.budget_s,
        )
    finally:
        client.close()
    out.figures["register_sdk"] = latency_stats(samples)


def tiny_model() -> tuple[Any, Any]:
    """A scikit-learn model fitted on 200 rows of 4 columns, and 5 rows as input example."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    return model, frame.head(5)


def measure_models(url: str, sdk: Any, settings: Any, sizes: RegSizes, out: SideResult) -> None:
    """``log_model`` (save, upload, register) and ``load_model`` cold and cached."""
    try:
        model, example = tiny_model()
    except ImportError as exc:
        out.notes.append(f"log_model/load_model skipped: scikit-learn is not installed ({exc})")
        return
    client = sdk.Client(url=url, settings=settings)
    try:
        say(f"  SDK log_model (tiny scikit-learn model) x{sizes.log_models}")
        logged: list[Any] = []
        samples = repeat(
            lambda: logged.append(client.log_model(model, LOGGED_MODEL, input_example=example)),
            sizes.log_models,
            sizes.budget_s,
        )
        out.figures["log_model"] = latency_stats(samples)
        client.set_model_alias(LOGGED_MODEL, ALIAS, logged[0].version)
        ref = f"{LOGGED_MODEL}@{ALIAS}"
        cache = Path(settings.home) / "models" / client.project / LOGGED_MODEL
        say(f"  SDK load_model({ref!r}) x{sizes.loads}, cold (cache removed) and cached")
        cold: list[float] = []
        deadline = time.perf_counter() + sizes.budget_s
        for _ in range(sizes.loads):
            shutil.rmtree(cache, ignore_errors=True)
            t0 = time.perf_counter()
            loaded = client.load_model(ref)
            cold.append(time.perf_counter() - t0)
            if time.perf_counter() > deadline:
                break
        if len(loaded.predict({"a": [0.1], "b": [0.2], "c": [0.3], "d": [0.4]})) != 1:
            raise BenchError("the loaded model did not predict one row")
        out.figures["load_cold"] = latency_stats(cold)
        out.figures["load_cached"] = latency_stats(
            repeat(lambda: client.load_model(ref), sizes.loads, sizes.budget_s)
        )
    finally:
        client.close()


# --------------------------------------------------------------------------- one backend


def run_griffin_registry(
    backend: str,
    database_url: str,
    workdir: Path,
    sizes: RegSizes,
    sdk: Any,
    workers: int,
    extra_env: dict[str, str],
    res: SideResult,
    after: Callable[[str, Path], None] | None = None,
) -> None:
    """Start a server on ``backend``, seed it, measure; then ``after(url, home)`` if given
    (the training jobs against this server)."""
    from griffin.config import load_settings
    from griffin.platform import open_platform

    home = workdir / f"griffin-{backend}"
    home.mkdir(parents=True, exist_ok=True)
    server_settings = load_settings(
        cwd=home, environ={}, home=str(home), database_url=database_url or None
    )
    if database_url:
        from griffin.store.migrate import upgrade
        from griffin.store.session import Database

        db = Database(database_url)
        try:
            upgrade(db)
        finally:
            db.dispose()
    open_platform(server_settings).close()  # migrates SQLite, creates the default project
    client_home = workdir / f"client-{backend}"
    client_home.mkdir(exist_ok=True)
    settings = load_settings(cwd=client_home, environ={}, home=str(client_home))
    env = griffin_env(home, database_url) | extra_env
    with griffin_server(env, home, workers, f"registry-{backend}") as url:
        api = Api(url)
        try:
            say(f"griffin/{backend}: seeding 1 + {sizes.other_models} models over REST")
            run_id, took, samples = seed(api, sizes)
            res.notes.append(
                f"griffin/{backend}: seeded {len(samples)} versions of "
                f"{sizes.other_models + 1} models over REST in {took:.1f} s"
            )
            measure_alias(url, sdk, settings, sizes, res)
            measure_register(api, url, sdk, settings, run_id, sizes, res)
            measure_models(url, sdk, settings, sizes, res)
        finally:
            api.close()
        if after is not None:
            after(url, home)
    if sizes.workers2 and workers == 1:
        with griffin_server(env, home, 2, f"registry-{backend}-2-workers") as url:
            path = f"{MODELS}/{MODEL}/aliases/{ALIAS}"
            say(f"  2 server workers: plain GET, {sizes.calls_8:,} calls on {THREADS} threads")
            res.figures[f"alias_rest_{THREADS}_w2"] = _drive_rest(
                url, path, None, THREADS, sizes.calls_8, sizes
            )
