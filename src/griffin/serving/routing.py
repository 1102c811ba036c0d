"""Which version answers a request: weighted traffic, optionally sticky by a request key.

Without a sticky key each request is drawn by the weights. With one, the key's value is
hashed onto 0-99 and the traffic's cumulative weights cut that range, so a given key always
lands on the same route while the weights stay the same, and moving 10 points of weight
moves only the keys in those 10 buckets.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from dataclasses import dataclass, field

from griffin.domain.deployments import TrafficRoute

__all__ = ["Router", "bucket"]

BUCKETS = 100


def bucket(key: str) -> int:
    """A stable bucket 0-99 for ``key`` (the same on every process and machine)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclass(frozen=True)
class Router:
    """Picks a route's index for each request from the traffic's weights."""

    routes: tuple[TrafficRoute, ...]
    _bounds: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.routes or sum(r.weight for r in self.routes) <= 0:
            raise ValueError("traffic needs at least one route with a positive weight")
        # The cumulative weights, once: choose() runs on every request.
        object.__setattr__(
            self, "_bounds", tuple(itertools.accumulate(r.weight for r in self.routes))
        )

    def choose(self, key: str | None = None, rng: random.Random | None = None) -> int:
        """The index of the route for a request: by ``key``'s bucket when given, else drawn."""
        bounds = self._bounds
        total = bounds[-1]
        if key is not None:
            point = bucket(key) * total // BUCKETS
        else:
            point = (rng or random).randrange(total)
        for index, bound in enumerate(bounds):
            if point < bound:
                return index
        return len(bounds) - 1  # unreachable: point < total
