"""Run search over REST: filters on params, tags, metrics and attributes; ordering; pages."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from rest_helpers import API, assert_error

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.tracking import Metric, RunStatus
from griffin.platform import Platform
from griffin.tracking import runs as service

pytestmark = pytest.mark.anyio

SEARCH = f"{API}/projects/default/runs/search"
ADMIN = Principal("tester", ALL_PROJECTS, Role.ADMIN)


@dataclass(frozen=True)
class Fixture:
    ids: dict[str, str]  # run name -> id


def _make(
    platform: Platform,
    name: str,
    *,
    experiment: str = "exp",
    acc: float | None = None,
    params: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    status: RunStatus | None = None,
) -> str:
    run = service.create_run(
        platform.db,
        ADMIN,
        "default",
        experiment,
        name=name,
        params=params,
        tags=tags,
        artifact_root="/artifacts",
    )
    if acc is not None:
        service.log_batch(platform.db, ADMIN, run.id, metrics=[Metric("acc", acc, 0, 1)])
    if status is not None:
        service.update_run(platform.db, ADMIN, run.id, status=status)
    return run.id


@pytest.fixture
def runs(platform: Platform) -> Fixture:
    """Seven runs, created oldest first: a .. g."""
    ids = {
        "a": _make(platform, "a", acc=0.5, params={"model": "resnet"}, tags={"team": "vision"}),
        "b": _make(platform, "b", acc=0.9, params={"model": "vit"}, tags={"team": "Vision"}),
        "c": _make(platform, "c", acc=math.nan, params={"model": "resnet"}, tags={"team": "nlp"}),
        "d": _make(platform, "d", params={"model": "bert"}, status=RunStatus.FINISHED),
        "e": _make(platform, "e", acc=0.7, tags={"team": "vi_on"}, status=RunStatus.FAILED),
        "f": _make(platform, "f", acc=math.inf, experiment="other", params={"model": "resnet"}),
        "g": _make(platform, "g", acc=-math.inf, params={"model": "100%"}),
    }
    return Fixture(ids)


async def _names(client: httpx.AsyncClient, fx: Fixture, **body: object) -> list[str]:
    response = await client.post(SEARCH, json=body)
    assert response.status_code == 200, response.text
    by_id = {v: k for k, v in fx.ids.items()}
    return [by_id[r["id"]] for r in response.json()["items"]]


async def test_no_filter_returns_every_run_newest_first(
    client: httpx.AsyncClient, runs: Fixture
) -> None:
    assert await _names(client, runs) == ["g", "f", "e", "d", "c", "b", "a"]
    assert await _names(client, runs, experiments=["other"]) == ["f"]
    assert await _names(client, runs, experiments=["exp", "other"]) == [*"gfedcba"]


FILTER_CASES = [
    ("params.model = 'resnet'", "fca"),
    ("params.model != 'resnet'", "gdb"),  # runs without the param never match
    ("params.model IN ('vit', 'bert')", "db"),
    ("params.model NOT IN ('resnet')", "gdb"),
    ("params.model LIKE 're%'", "fca"),
    ("params.model LIKE '100\\%'", "g"),
    ("tags.team = 'vision'", "a"),
    ("tags.team LIKE 'vi%'", "ea"),  # LIKE is case-sensitive on every backend
    ("tags.team LIKE 'vi_ion'", "a"),
    ("tags.team LIKE 'vi_on'", "e"),
    ("tags.team LIKE 'vi\\_on'", "e"),
    ("tags.team ILIKE 'VISION'", "ba"),
    ("metrics.acc > 0.6", "feb"),  # NaN never matches a comparison; inf does
    ("metrics.acc <= 0.5", "ga"),
    ("metrics.acc != 0.5", "gfeb"),
    ("metrics.acc >= -1e309", "gfeba"),  # -1e309 is -inf
    ("attributes.status = 'FINISHED'", "d"),
    ("attributes.status IN ('failed', 'finished')", "ed"),
    ("attributes.status != 'RUNNING'", "ed"),
    ("attributes.run_name = 'b'", "b"),
    ("run.name LIKE '%'", "gfedcba"),
    ("params.model = 'resnet' AND metrics.acc > 0.1", "fa"),
    ("params.model = 'resnet' and tags.team = 'nlp'", "c"),
    ("metrics.missing > 0", ""),
]


async def test_filters(client: httpx.AsyncClient, runs: Fixture) -> None:
    # One data set, many filters: cheaper than re-creating the runs for every case.
    for filter_, expected in FILTER_CASES:
        assert await _names(client, runs, filter=filter_) == list(expected), filter_


async def test_filter_by_id_and_time(client: httpx.AsyncClient, runs: Fixture) -> None:
    ids = runs.ids
    found = await _names(client, runs, filter=f"attributes.run_id IN ('{ids['a']}', '{ids['c']}')")
    assert found == ["c", "a"]
    listed = (await client.get(f"{API}/projects/default/runs")).json()["items"]
    created = {r["id"]: datetime.fromisoformat(r["created_at"]) for r in listed}
    # start_time is in epoch milliseconds; compare just after run d was created.
    millis = math.ceil(created[ids["d"]].timestamp() * 1000)
    cutoff = datetime.fromtimestamp(millis / 1000, UTC)
    expected = [name for name in "gfedcba" if created[ids[name]] > cutoff]
    assert "d" not in expected
    assert "g" in expected
    assert await _names(client, runs, filter=f"attributes.start_time > {millis}") == expected
    ended = await _names(client, runs, filter="attributes.end_time > 0")
    assert ended == ["e", "d"]


ORDER_CASES = [
    # NaN (c) and missing (d) sort last in either direction, newest first among themselves.
    (["metrics.acc DESC"], "fbeagdc"),
    (["metrics.acc ASC"], "gaebfdc"),
    (["metrics.acc"], "gaebfdc"),
    (["params.model"], "gdfcabe"),  # '100%' < 'bert' < 'resnet' < 'vit'; missing last
    (["name DESC"], "gfedcba"),
    (["start_time"], "abcdefg"),
    (["attributes.status", "metrics.acc DESC"], "edfbagc"),
]


async def test_order_by(client: httpx.AsyncClient, runs: Fixture) -> None:
    for order_by, expected in ORDER_CASES:
        assert await _names(client, runs, order_by=order_by) == list(expected), order_by


async def test_pages_follow_the_order(client: httpx.AsyncClient, runs: Fixture) -> None:
    seen: list[str] = []
    cursor: str | None = None
    by_id = {v: k for k, v in runs.ids.items()}
    while True:
        body: dict[str, object] = {"order_by": ["metrics.acc DESC"], "limit": 3}
        if cursor:
            body["cursor"] = cursor
        response = await client.post(SEARCH, json=body)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 3
        seen += [by_id[r["id"]] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list("fbeagdc")


async def test_deleted_runs_are_excluded(client: httpx.AsyncClient, runs: Fixture) -> None:
    assert (await client.delete(f"{API}/runs/{runs.ids['a']}")).status_code == 204
    assert await _names(client, runs, filter="params.model = 'resnet'") == ["f", "c"]
    assert await _names(client, runs, filter="params.model = 'resnet'", include_deleted=True) == [
        "f",
        "c",
        "a",
    ]
    listed = (await client.get(f"{API}/projects/default/runs")).json()
    assert runs.ids["a"] not in {r["id"] for r in listed["items"]}


async def test_results_carry_params_tags_and_metrics(
    client: httpx.AsyncClient, runs: Fixture
) -> None:
    response = await client.post(SEARCH, json={"filter": "attributes.run_name = 'c'"})
    (run,) = response.json()["items"]
    assert run["params"] == {"model": "resnet"}
    assert run["tags"] == {"team": "nlp"}
    assert run["metrics"]["acc"]["value"] == "NaN"


async def test_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(SEARCH, json={"experiments": ["ghost"]})
    assert_error(response, 404, "NOT_FOUND", "experiment 'ghost'")


# --- bad requests (validation only: run on SQLite) ------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "fragments"),
    [
        ({"filter": "metrics.acc >> 1"}, "filter", ["position 13", "expected a number"]),
        ({"filter": "params.model = resnet"}, "filter", ["position 15", "quoted string"]),
        (
            {"filter": "metrics.acc > 1 OR metrics.acc < 0"},
            "filter",
            ["position 16", "'OR' is not supported"],
        ),
        ({"filter": "colour = 'red'"}, "filter", ["position 0", "'colour'"]),
        ({"filter": "attributes.status = 'DONE'"}, "filter", ["position 20", "'DONE'"]),
        ({"filter": "x" * 8001}, "filter", ["at most 8000"]),
        ({"order_by": ["metrics.acc SIDEWAYS"]}, "order_by", ["order_by[0]", "ASC or DESC"]),
        ({"order_by": ["acc"]}, "order_by", ["order_by[0]", "'acc'"]),
        ({"order_by": ["name"] * 11}, "order_by", ["at most 10"]),
        ({"limit": 0}, "limit", ["greater than or equal to 1"]),
        ({"limit": 50_001}, "limit", ["less than or equal to 50000"]),
        ({"cursor": "garbage!"}, "cursor", ["invalid page cursor"]),
        ({"cursor": "Wy0xXQ"}, "cursor", ["invalid page cursor"]),  # [-1]
        ({"sort": "acc"}, "sort", ["Extra inputs"]),
    ],
)
async def test_bad_search_is_400_naming_the_problem(
    sqlite_client: httpx.AsyncClient, body: dict[str, object], field: str, fragments: list[str]
) -> None:
    response = await sqlite_client.post(SEARCH, json=body)
    assert_error(response, 400, "INVALID_ARGUMENT", *fragments)
    assert response.json()["error"]["details"] == {"field": field}
