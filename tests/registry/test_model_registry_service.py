"""Registry services on both databases: version numbering under concurrency, aliases, events."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from griffin.platform import Platform
from griffin.registry import aliases, versions
from griffin.store.orm.registry import ModelAliasEventRow
from griffin.tracking.runs import create_run

ADMIN = Principal(user="ana", project=ALL_PROJECTS, role=Role.ADMIN)
VIEWER = Principal(user="vic", project="default", role=Role.VIEWER)


def _run(platform: Platform) -> str:
    run = create_run(
        platform.db,
        ADMIN,
        "default",
        "exp",
        artifact_root=platform.settings.resolved_artifact_root,
    )
    return run.id


def test_concurrent_registrations_get_distinct_consecutive_numbers(platform: Platform) -> None:
    run_id = _run(platform)
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def register() -> None:
        try:
            for _ in range(5):
                v = versions.create_version(
                    platform.db,
                    ADMIN,
                    "default",
                    "eta",
                    source=f"runs:/{run_id}/m",
                    flavor="sklearn",
                )
                with lock:
                    got.append(v.version)
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(got) == list(range(1, 21))
    assert versions.get_model(platform.db, ADMIN, "default", "eta").latest_version == 20


def test_alias_events_are_written_with_the_change(platform: Platform) -> None:
    run_id = _run(platform)
    for _ in range(2):
        versions.create_version(
            platform.db,
            ADMIN,
            "default",
            "eta",
            source=f"runs:/{run_id}/m",
            flavor="sklearn",
            metrics={"auc": 0.7},
        )
    aliases.set_alias(platform.db, ADMIN, "default", "eta", "champion", 1)
    with pytest.raises(Conflict):
        aliases.promote(platform.db, ADMIN, "default", "eta", 2, "champion", ["auc>0.8"])
    with pytest.raises(PermissionDenied):
        aliases.set_alias(platform.db, VIEWER, "default", "eta", "champion", 2)
    with pytest.raises(NotFound):
        aliases.delete_alias(platform.db, ADMIN, "default", "eta", "challenger")
    with pytest.raises(InvalidArgument, match="versions start at 1"):
        aliases.set_alias(platform.db, ADMIN, "default", "eta", "champion", 0)
    with platform.db.session() as session:
        events = session.scalar(select(func.count()).select_from(ModelAliasEventRow))
    assert events == 1  # refused changes leave no event behind
    resolved = aliases.resolve_ref(platform.db, VIEWER, "default", "eta@champion")
    assert resolved.version == 1
    assert resolved.aliases == ("champion",)
    assert aliases.resolve_ref(platform.db, VIEWER, "default", "eta@latest").version == 2


def test_a_run_of_another_project_cannot_be_a_source(platform: Platform) -> None:
    run_id = _run(platform)
    from griffin.store import projects

    with platform.db.session(write=True) as session:
        projects.create(session, "other")
    with pytest.raises(InvalidArgument, match="belongs to project 'default'"):
        versions.create_version(
            platform.db, ADMIN, "other", "eta", source=f"runs:/{run_id}/m", flavor="sklearn"
        )
