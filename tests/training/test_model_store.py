"""The Model Store service on both backends: plan/apply, versions, diffs, packages, roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.model_definitions import ModelDefinitionSpec
from griffin.errors import InvalidArgument, NotFound, PermissionDenied
from griffin.platform import Platform
from griffin.store.orm.model_definitions import ModelDefinitionVersionRow
from griffin.training import model_store
from griffin.training.packages import build_package

ADMIN = Principal("alice", ALL_PROJECTS, Role.ADMIN)
VIEWER = Principal("bob", "default", Role.VIEWER)


def spec(name: str = "delivery_eta", **changes: object) -> ModelDefinitionSpec:
    base: dict[str, object] = {
        "name": name,
        "entry": "model.py:train",
        "runtime": "sklearn-1",
        "task": "regression",
        "params": {"max_depth": 6},
        "owner": "eta-team",
        "tags": {"team": "eta"},
    }
    return ModelDefinitionSpec.from_json({**base, **changes})


def package(platform: Platform, tmp_path: Path, body: str) -> str:
    root = tmp_path / f"proj-{abs(hash(body))}"
    root.mkdir()
    (root / "model.py").write_text(body)
    (root / "helpers.py").write_text("X = 1\n")
    built = build_package(root, tmp_path / "out")
    return model_store.store_package(platform, ADMIN, "default", built.path, built.digest)


def versions(platform: Platform) -> int:
    with platform.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(ModelDefinitionVersionRow)) or 0)


def test_apply_create_unchanged_update(platform: Platform, tmp_path: Path) -> None:
    code = package(platform, tmp_path, "def train(ctx):\n    return 1\n")
    planned = model_store.plan(platform, VIEWER, "default", [spec()], code_digest=code)
    assert [(i.action, i.new_version) for i in planned.items] == [("create", 1)]
    assert versions(platform) == 0  # a plan writes nothing

    applied = model_store.apply(
        platform, ADMIN, "default", [spec(), spec("churn")], code_digest=code, git_commit="abc1234"
    )
    assert applied.applied
    assert [(i.name, i.action) for i in applied.items] == [
        ("churn", "create"),
        ("delivery_eta", "create"),
    ]
    again = model_store.apply(platform, ADMIN, "default", [spec()], code_digest=code)
    assert [(i.name, i.action) for i in again.items] == [
        ("delivery_eta", "unchanged"),
        ("churn", "not_in_definitions"),
    ]
    assert versions(platform) == 2

    # A spec change: a new version with the field-level diff.
    changed = model_store.apply(
        platform, ADMIN, "default", [spec(params={"max_depth": 8})], code_digest=code
    )
    (item,) = changed.of("update")
    assert (item.version, item.new_version, item.code_changed) == (1, 2, False)
    assert [str(c) for c in item.changes] == ["params.max_depth: 6 -> 8"]

    # Only the code changed: a new version too.
    new_code = package(platform, tmp_path, "def train(ctx):\n    return 2\n")
    code_only = model_store.apply(
        platform, ADMIN, "default", [spec(params={"max_depth": 8})], code_digest=new_code
    )
    (item,) = code_only.of("update")
    assert item.changes == ()
    assert item.code_changed
    assert (item.old_code_digest, item.code_digest) == (code, new_code)

    found = model_store.get_definition(platform.db, VIEWER, "default", "delivery_eta")
    assert (found.version, found.latest_version, found.code_digest) == (3, 3, new_code)
    assert found.params == {"max_depth": 8}
    assert found.spec == spec(params={"max_depth": 8})
    assert [v.version for v in found.versions] == [1, 2, 3]
    assert next(v.change for v in found.versions) == "created"
    assert found.versions[2].change.startswith("code ")
    first = model_store.get_definition(platform.db, VIEWER, "default", "delivery_eta", 1)
    assert (first.params, first.git_commit, first.code_digest) == (
        {"max_depth": 6},
        "abc1234",
        code,
    )
    history = model_store.definition_versions(platform.db, VIEWER, "default", "delivery_eta")
    assert [v.code_digest for v in history] == [code, code, new_code]

    listed = model_store.list_definitions(platform.db, VIEWER, "default")
    assert [(d.name, d.version) for d in listed] == [("churn", 1), ("delivery_eta", 3)]
    assert listed[0].versions == ()
    assert [
        d.name for d in model_store.list_definitions(platform.db, VIEWER, "default", query="CHU")
    ] == ["churn"]


def test_diff_spec_code_and_files(platform: Platform, tmp_path: Path) -> None:
    old = package(platform, tmp_path, "def train(ctx):\n    return 1\n")
    model_store.apply(platform, ADMIN, "default", [spec()], code_digest=old)
    new = package(platform, tmp_path, "def train(ctx):\n    return 22\n")
    model_store.apply(platform, ADMIN, "default", [spec(task="classification")], code_digest=new)
    model_store.apply(platform, ADMIN, "default", [spec(task="classification")])  # no code

    diff = model_store.diff(platform, VIEWER, "default", "delivery_eta", 1, 2)
    assert [str(c) for c in diff.changes] == ['task: "regression" -> "classification"']
    assert diff.code_changed
    assert diff.files_compared
    assert [(f.path, f.op) for f in diff.files] == [("model.py", "modified")]
    latest = model_store.diff(platform, VIEWER, "default", "delivery_eta")
    assert (latest.from_version, latest.to_version) == (2, 3)
    assert latest.code_changed
    assert not latest.files_compared
    assert latest.to_code_digest == ""
    same = model_store.diff(platform, VIEWER, "default", "delivery_eta", 2, 2)
    assert same.changes == ()
    assert not same.code_changed
    with pytest.raises(NotFound, match="has no version 9"):
        model_store.diff(platform, VIEWER, "default", "delivery_eta", 1, 9)


def test_errors_and_roles(platform: Platform, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="is not stored"):
        model_store.apply(platform, ADMIN, "default", [spec()], code_digest="a" * 64)
    with pytest.raises(InvalidArgument, match="given twice"):
        model_store.plan(platform, ADMIN, "default", [spec(), spec()])
    with pytest.raises(PermissionDenied):
        model_store.apply(platform, VIEWER, "default", [spec()])
    model_store.apply(platform, ADMIN, "default", [spec()])
    with pytest.raises(NotFound, match="did you mean 'delivery_eta'"):
        model_store.get_definition(platform.db, VIEWER, "default", "delivery_et")
    with pytest.raises(NotFound, match="versions 1 to 1"):
        model_store.get_definition(platform.db, VIEWER, "default", "delivery_eta", 2)
    with pytest.raises(NotFound):
        model_store.list_definitions(platform.db, ADMIN, "nope")


def test_packages_are_verified_and_idempotent(platform: Platform, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "model.py").write_text("x = 1\n")
    built = build_package(root, tmp_path / "out")
    with pytest.raises(InvalidArgument, match=r"not b+ as named in the URL"):
        model_store.store_package(platform, ADMIN, "default", built.path, "b" * 64)
    with pytest.raises(NotFound):
        model_store.has_package(platform, VIEWER, "default", built.digest)
    with pytest.raises(PermissionDenied):
        model_store.store_package(platform, VIEWER, "default", built.path, built.digest)
    assert model_store.store_package(platform, ADMIN, "default", built.path) == built.digest
    assert model_store.store_package(platform, ADMIN, "default", built.path) == built.digest
    size = model_store.has_package(platform, VIEWER, "default", built.digest)
    assert size == built.path.stat().st_size
    stored_size, sha, chunks = model_store.open_package(platform, VIEWER, "default", built.digest)
    assert b"".join(chunks) == built.path.read_bytes()
    assert stored_size == size
    assert len(sha) == 64
    assert (
        model_store.package_key("default", built.digest)
        == f"packages/default/{built.digest}.tar.gz"
    )
    with pytest.raises(InvalidArgument):
        model_store.package_key("default", "../../etc")
