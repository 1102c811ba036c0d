"""A deployment as served: its versions loaded, each behind a batcher, swapped whole on change.

:class:`LiveDeployment` is immutable: the configuration it was built from, the router over its
traffic, and one :class:`LiveVersion` per reference. When the deployment's revision changes or
one of its aliases moves, :class:`DeploymentLoader` builds a new one beside the old (loading
only versions it does not already hold) and the server replaces its reference in one
assignment: a request uses the object it started with, so a swap never fails a request. The
old version's batcher is closed once no request can reach it any more.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from griffin.domain.deployments import Deployment
from griffin.domain.registry import ModelVersion
from griffin.registry.flavors import LoadedModel
from griffin.serving.batching import Batcher
from griffin.serving.routing import Router

if TYPE_CHECKING:
    from griffin.serving.feature_reads import ReadBatcher

__all__ = ["DeploymentLoader", "LiveDeployment", "LiveVersion"]

# A loaded version is shared by every route and deployment that serve it with the same
# batching settings and feature service: (model, version, max_batch_size, max_latency_ms,
# feature service or "").
_Key = tuple[str, int, int, float, str]

log = logging.getLogger(__name__)

# How long an old version's batcher lives after a swap: requests routed to it just before
# finish first (a predict is milliseconds; this is generous).
RETIRE_AFTER_S = 5.0


@dataclass(frozen=True)
class LiveVersion:
    """One loaded model version, the batcher in front of it, and where its features are read
    (None: its requests carry the model's inputs)."""

    ref: str
    version: ModelVersion
    model: LoadedModel
    batcher: Batcher
    features: ReadBatcher | None = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.version.name, self.version.version)

    async def predict(self, rows: pd.DataFrame) -> np.ndarray[Any, Any]:
        return await self.batcher.predict(rows)


@dataclass(frozen=True)
class LiveDeployment:
    deployment: Deployment
    router: Router
    traffic: tuple[LiveVersion, ...]
    shadows: tuple[LiveVersion, ...]

    @property
    def name(self) -> str:
        return self.deployment.name

    @property
    def versions(self) -> tuple[LiveVersion, ...]:
        return self.traffic + self.shadows

    def signature(self) -> tuple[tuple[str, int], ...]:
        """What it serves: the deployment's revision aside, the exact versions by route."""
        return tuple(v.key for v in self.versions)


class DeploymentLoader:
    """Builds :class:`LiveDeployment` objects, reusing versions already loaded.

    Args:
        resolve: a reference -> the version it names now (``client.resolve_model``).
        load: a version -> the loaded model (download, verify, unpickle); runs in a thread.
        features: (a version, its feature service) -> where its features are read, with
            its own on-demand code; for a version served from a feature service; runs in a
            thread.
    """

    def __init__(
        self,
        resolve: Callable[[str], ModelVersion],
        load: Callable[[ModelVersion], LoadedModel],
        features: Callable[[ModelVersion, str], ReadBatcher] | None = None,
    ) -> None:
        self.resolve = resolve
        self.load = load
        self.features = features
        self._loaded: dict[_Key, LiveVersion] = {}

    async def build(self, deployment: Deployment) -> LiveDeployment:
        config = deployment.config
        resolved = {
            ref: await asyncio.to_thread(self.resolve, ref) for ref in dict.fromkeys(config.refs)
        }
        live: dict[str, LiveVersion] = {}
        for ref, version in resolved.items():
            key = _key(version, deployment)
            existing = self._loaded.get(key)
            if existing is None:
                model = await asyncio.to_thread(self.load, version)
                features = None
                if key[4] and self.features is not None:
                    features = await asyncio.to_thread(self.features, version, key[4])
                existing = LiveVersion(
                    ref,
                    version,
                    model,
                    Batcher(
                        model.predict,
                        max_batch_size=config.max_batch_size,
                        max_latency_ms=config.max_latency_ms,
                        name=f"{version.name}-{version.version}",
                    ),
                    features,
                )
                self._loaded[key] = existing
                log.info("loaded %s (version %s of %s)", ref, version.version, version.name)
            live[ref] = dataclasses.replace(existing, ref=ref)
        return LiveDeployment(
            deployment=deployment,
            router=Router(config.traffic),
            traffic=tuple(live[r.ref] for r in config.traffic),
            shadows=tuple(live[r] for r in config.shadows),
        )

    def loaded(self) -> list[tuple[str, int]]:
        """The (model, version) pairs loaded now, each once."""
        return sorted({(key[0], key[1]) for key in self._loaded})

    async def retire(self, current: Callable[[], list[LiveDeployment]]) -> None:
        """Close the batchers of versions no deployment in ``current()`` serves, after a grace
        period (asked again after it: a version may have come back meanwhile)."""
        if not self._unused(current()):
            return
        await asyncio.sleep(RETIRE_AFTER_S)
        for key in self._unused(current()):
            version = self._loaded.pop(key)
            await version.batcher.close()
            log.info("unloaded version %s of %s", key[1], key[0])

    def _unused(self, live: list[LiveDeployment]) -> list[_Key]:
        used = {_key(v.version, d.deployment) for d in live for v in d.versions}
        return [key for key in self._loaded if key not in used]

    async def close(self) -> None:
        for version in self._loaded.values():
            await version.batcher.close()
        self._loaded.clear()


def _key(version: ModelVersion, deployment: Deployment) -> _Key:
    config = deployment.config
    service = config.feature_service or version.lineage.feature_service or ""
    return (version.name, version.version, config.max_batch_size, config.max_latency_ms, service)
