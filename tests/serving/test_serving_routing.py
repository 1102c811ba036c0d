"""Traffic routing: weights are honoured, sticky keys keep their version, moves are minimal."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from griffin.domain.deployments import TrafficRoute
from griffin.serving.routing import Router, bucket


def _router(*weights: int) -> Router:
    return Router(tuple(TrafficRoute(f"m/{i + 1}", w) for i, w in enumerate(weights)))


def test_draws_follow_the_weights() -> None:
    router = _router(90, 10)
    rng = random.Random(7)
    counts = Counter(router.choose(rng=rng) for _ in range(20_000))
    assert 0.88 < counts[0] / 20_000 < 0.92
    assert counts[0] + counts[1] == 20_000


def test_a_zero_weight_route_gets_nothing() -> None:
    router = _router(100, 0)
    rng = random.Random(1)
    assert {router.choose(rng=rng) for _ in range(2_000)} == {0}
    assert {router.choose(key=str(k)) for k in range(2_000)} == {0}


def test_sticky_keys_always_land_on_the_same_route() -> None:
    router = _router(50, 50)
    first = {k: router.choose(key=f"customer-{k}") for k in range(1_000)}
    assert all(router.choose(key=f"customer-{k}") == first[k] for k in range(1_000))
    share = sum(1 for v in first.values() if v == 0) / 1_000
    assert 0.4 < share < 0.6


def test_moving_weight_moves_only_the_keys_in_the_moved_buckets() -> None:
    before = _router(90, 10)
    after = _router(80, 20)
    keys = [f"k{i}" for i in range(5_000)]
    moved = [k for k in keys if before.choose(key=k) != after.choose(key=k)]
    # Only keys from route 0 to route 1, about 10% of them.
    assert all(before.choose(key=k) == 0 and after.choose(key=k) == 1 for k in moved)
    assert 0.07 < len(moved) / len(keys) < 0.13


def test_buckets_are_stable_and_spread() -> None:
    assert bucket("customer-42") == bucket("customer-42")
    assert len({bucket(str(i)) for i in range(5_000)}) == 100


def test_traffic_without_weight_is_refused() -> None:
    with pytest.raises(ValueError, match="positive weight"):
        _router(0)
