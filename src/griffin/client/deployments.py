"""Deployments from the SDK: create, update, roll back, list, show and their history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from griffin.client._base import ClientBase, segment
from griffin.domain.deployments import Deployment, DeploymentConfig, DeploymentRevision

__all__ = ["DeploymentsMixin"]


class DeploymentsMixin(ClientBase):
    def _deployment_path(self, name: str) -> str:
        return f"{self._project_path()}/deployments/{segment(name)}"

    def create_deployment(
        self,
        name: str,
        model: str | None = None,
        *,
        traffic: Mapping[str, int] | Sequence[Mapping[str, Any]] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        comment: str = "",
        **config: Any,
    ) -> Deployment:
        """Create a deployment of a registered model in the client's project.

        ``model`` is a reference (``"delivery_eta@champion"``, ``"delivery_eta/12"``) that gets
        all the traffic, or give ``traffic`` as reference -> weight (adding up to 100) for a
        canary. Other configuration fields go as keywords: ``shadows``, ``sticky_key``,
        ``feature_service``, ``backend``, ``workers``, ``replicas``, ``max_batch_size``,
        ``max_latency_ms``, ``max_rows``, ``allow_degraded``::

            client.create_deployment("eta", "delivery_eta@champion", max_batch_size=64)
            client.create_deployment(
                "eta-canary",
                traffic={"delivery_eta@champion": 90, "delivery_eta@challenger": 10},
                shadows=["delivery_eta/14"],
            )

        Raises:
            InvalidArgument: a bad field (the message names it).
            NotFound: a reference names no version now.
            AlreadyExists: the name is taken.
        """
        spec = _spec(model, traffic, config)
        DeploymentConfig.parse(spec)  # a bad configuration fails here, before sending
        body = {"name": name, "description": description, "tags": dict(tags or {}), **spec}
        body["comment"] = comment
        data = self._call(
            "POST", f"{self._project_path()}/deployments", json=body, idempotent=False
        )
        return Deployment.from_json(data)

    def get_deployment(self, name: str) -> Deployment:
        """One deployment, with its current configuration and revision."""
        return Deployment.from_json(self._call("GET", self._deployment_path(name)))

    def list_deployments(self) -> list[Deployment]:
        """The deployments of the client's project, by name."""
        data = self._call("GET", f"{self._project_path()}/deployments")
        return [Deployment.from_json(item) for item in data["items"]]

    def update_deployment(
        self,
        name: str,
        model: str | None = None,
        *,
        traffic: Mapping[str, int] | Sequence[Mapping[str, Any]] | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        comment: str = "",
        **config: Any,
    ) -> Deployment:
        """Change a deployment: the fields given replace the current ones, as a new revision.

        A new ``model`` reference without ``traffic`` sends all the traffic to it; ``traffic``
        replaces the whole split. Giving what is already there records no revision.
        ``description`` and ``tags`` (merged) change without a revision.
        """
        body: dict[str, Any] = {**_spec(model, traffic, config), "comment": comment}
        if description is not None:
            body["description"] = description
        if tags:
            body["tags"] = dict(tags)
        return Deployment.from_json(
            self._call("PATCH", self._deployment_path(name), json=body, idempotent=False)
        )

    def rollback_deployment(
        self, name: str, *, to_revision: int | None = None, comment: str = ""
    ) -> Deployment:
        """Make an earlier revision's configuration current again (by default the previous
        revision's), as a new revision; a second call undoes the first."""
        body = {"to_revision": to_revision, "comment": comment}
        data = self._call(
            "POST", f"{self._deployment_path(name)}/rollback", json=body, idempotent=False
        )
        return Deployment.from_json(data)

    def deployment_history(self, name: str, *, limit: int = 100) -> list[DeploymentRevision]:
        """Every change of the deployment, newest first: who, when, what, and why."""
        data = self._call(
            "GET", f"{self._deployment_path(name)}/revisions", params={"limit": limit}
        )
        return [DeploymentRevision.from_json(item) for item in data["items"]]


def _spec(
    model: str | None,
    traffic: Mapping[str, int] | Sequence[Mapping[str, Any]] | None,
    config: Mapping[str, Any],
) -> dict[str, Any]:
    spec: dict[str, Any] = dict(config)
    if model is not None:
        spec["model"] = model
    if isinstance(traffic, Mapping):
        spec["traffic"] = [{"ref": ref, "weight": weight} for ref, weight in traffic.items()]
    elif traffic is not None:  # already a list of {"ref", "weight"}
        spec["traffic"] = [dict(route) for route in traffic]
    if "shadows" in spec:
        spec["shadows"] = list(spec["shadows"])
    return spec
