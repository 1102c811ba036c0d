"""Deployment services on both databases: create, update, roll back, history, permissions."""

from __future__ import annotations

import pytest

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.deployments import DeploymentAction, TrafficRoute
from griffin.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, PermissionDenied
from griffin.platform import Platform
from griffin.registry import aliases, versions
from griffin.serving import deployments
from griffin.tracking.runs import create_run

ADMIN = Principal(user="ana", project=ALL_PROJECTS, role=Role.ADMIN)
VIEWER = Principal(user="vic", project="default", role=Role.VIEWER)


@pytest.fixture
def registry(platform: Platform) -> Platform:
    """Model ``eta`` with versions 1-3, ``champion`` on 2 and ``challenger`` on 3."""
    run = create_run(
        platform.db, ADMIN, "default", "exp", artifact_root=platform.settings.resolved_artifact_root
    )
    for _ in range(3):
        versions.create_version(
            platform.db, ADMIN, "default", "eta", source=f"runs:/{run.id}/m", flavor="sklearn"
        )
    aliases.set_alias(platform.db, ADMIN, "default", "eta", "champion", 2)
    aliases.set_alias(platform.db, ADMIN, "default", "eta", "challenger", 3)
    return platform


def test_create_update_and_roll_back_record_every_revision(registry: Platform) -> None:
    db = registry.db
    created = deployments.create_deployment(
        db, ADMIN, "default", "eta-prod", {"model": "eta@champion"}, description="ETA"
    )
    assert (created.revision, created.created_by, created.description) == (1, "ana", "ETA")
    canary = deployments.update_deployment(
        db,
        ADMIN,
        "default",
        "eta-prod",
        {"traffic": {"eta@champion": 90, "eta@challenger": 10}, "shadows": ["eta/1"]},
        comment="canary",
    )
    assert canary.revision == 2
    assert canary.config.traffic[1] == TrafficRoute("eta@challenger", 10)
    # The same change again is no change: no revision.
    again = deployments.update_deployment(
        db, ADMIN, "default", "eta-prod", {"traffic": {"eta@champion": 90, "eta@challenger": 10}}
    )
    assert again.revision == 2
    back = deployments.rollback_deployment(db, ADMIN, "default", "eta-prod")
    assert back.revision == 3
    assert back.config == created.config
    forward = deployments.rollback_deployment(db, ADMIN, "default", "eta-prod")
    assert forward.config == canary.config
    to_first = deployments.rollback_deployment(db, ADMIN, "default", "eta-prod", to_revision=1)
    assert to_first.config == created.config
    history = deployments.deployment_history(db, VIEWER, "default", "eta-prod")
    assert [(r.revision, r.action, r.rolled_back_to) for r in history] == [
        (5, DeploymentAction.ROLLBACK, 1),
        (4, DeploymentAction.ROLLBACK, 2),
        (3, DeploymentAction.ROLLBACK, 1),
        (2, DeploymentAction.UPDATE, None),
        (1, DeploymentAction.CREATE, None),
    ]
    assert history[3].comment == "canary"
    assert deployments.get_deployment(db, VIEWER, "default", "eta-prod").revision == 5
    assert [d.name for d in deployments.list_deployments(db, VIEWER, "default")] == ["eta-prod"]


def test_description_and_tags_change_without_a_revision(registry: Platform) -> None:
    db = registry.db
    deployments.create_deployment(db, ADMIN, "default", "eta", {"model": "eta/1"}, tags={"a": "1"})
    changed = deployments.update_deployment(
        db, ADMIN, "default", "eta", {}, description="new", tags={"b": "2"}
    )
    assert (changed.revision, changed.description, changed.tags) == (1, "new", {"a": "1", "b": "2"})


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        ({"model": "eta@nightly"}, NotFound, "model 'eta' has no alias 'nightly'"),
        ({"model": "eta/9"}, NotFound, "has no version 9"),
        ({"model": "nope@champion"}, NotFound, "unknown model 'nope'"),
        ({"model": "eta@champion", "shadows": ["eta@gone"]}, NotFound, "'eta@gone' names nothing"),
        ({"model": "eta@champion", "workers": 100}, InvalidArgument, "workers"),
    ],
)
def test_a_deployment_never_points_at_nothing(
    registry: Platform, spec: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        deployments.create_deployment(registry.db, ADMIN, "default", "eta", spec)
    assert deployments.list_deployments(registry.db, ADMIN, "default") == []


def test_conflicts_and_missing_deployments(registry: Platform) -> None:
    db = registry.db
    deployments.create_deployment(db, ADMIN, "default", "eta", {"model": "eta@champion"})
    with pytest.raises(AlreadyExists, match="already exists"):
        deployments.create_deployment(db, ADMIN, "default", "eta", {"model": "eta/1"})
    with pytest.raises(Conflict, match="nothing to roll back to"):
        deployments.rollback_deployment(db, ADMIN, "default", "eta")
    deployments.update_deployment(db, ADMIN, "default", "eta", {"model": "eta/1"})
    with pytest.raises(NotFound, match="has no revision 7"):
        deployments.rollback_deployment(db, ADMIN, "default", "eta", to_revision=7)
    with pytest.raises(Conflict, match="is the current revision"):
        deployments.rollback_deployment(db, ADMIN, "default", "eta", to_revision=2)
    with pytest.raises(NotFound, match="did you mean 'eta'"):
        deployments.get_deployment(db, ADMIN, "default", "etaa")
    with pytest.raises(InvalidArgument, match="invalid deployment name"):
        deployments.create_deployment(db, ADMIN, "default", "ETA", {"model": "eta/1"})


def test_viewers_read_but_do_not_change(registry: Platform) -> None:
    db = registry.db
    with pytest.raises(PermissionDenied):
        deployments.create_deployment(db, VIEWER, "default", "eta", {"model": "eta/1"})
    deployments.create_deployment(db, ADMIN, "default", "eta", {"model": "eta/1"})
    for change in (
        lambda: deployments.update_deployment(db, VIEWER, "default", "eta", {"model": "eta/2"}),
        lambda: deployments.rollback_deployment(db, VIEWER, "default", "eta"),
    ):
        with pytest.raises(PermissionDenied):
            change()
    assert deployments.get_deployment(db, VIEWER, "default", "eta").revision == 1
