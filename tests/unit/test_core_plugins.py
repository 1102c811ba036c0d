"""The plug-in registry: built-ins as data, entry points added or overriding, lazy imports."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint

import pytest

from griffin import plugins
from griffin.artifacts import LocalArtifactStore
from griffin.artifacts.fsspec_store import FsspecArtifactStore
from griffin.errors import ConfigError


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[EntryPoint]]]:
    groups: dict[str, list[EntryPoint]] = {}
    monkeypatch.setattr(plugins, "entry_points", lambda group: groups.get(group, []))
    plugins._entry_points.cache_clear()
    yield groups
    plugins._entry_points.cache_clear()


def test_builtins_resolve_by_name_with_a_fallback() -> None:
    assert plugins.resolve("artifact_store", "") is LocalArtifactStore
    assert plugins.resolve("artifact_store", "file") is LocalArtifactStore
    assert plugins.resolve("artifact_store", "s3") is FsspecArtifactStore


def test_an_entry_point_adds_a_backend(fake_entry_points: dict[str, list[EntryPoint]]) -> None:
    fake_entry_points["griffin.artifact_store"] = [
        EntryPoint("acme", "griffin.artifacts.local:LocalArtifactStore", "griffin.artifact_store")
    ]
    assert plugins.available("artifact_store")["acme"] == (
        "griffin.artifacts.local:LocalArtifactStore"
    )
    assert plugins.resolve("artifact_store", "acme") is LocalArtifactStore


def test_an_entry_point_replaces_a_builtin(fake_entry_points: dict[str, list[EntryPoint]]) -> None:
    fake_entry_points["griffin.artifact_store"] = [
        EntryPoint("file", "griffin.artifacts.fsspec_store:FsspecArtifactStore", "x")
    ]
    assert plugins.resolve("artifact_store", "file") is FsspecArtifactStore


def test_broken_targets_are_one_config_error(
    fake_entry_points: dict[str, list[EntryPoint]],
) -> None:
    fake_entry_points["griffin.artifact_store"] = [
        EntryPoint("gone", "acme.missing:Store", "x"),
        EntryPoint("wrong", "griffin.errors:NotFound", "x"),
    ]
    with pytest.raises(ConfigError, match=r"'gone' -> 'acme.missing:Store' cannot be loaded"):
        plugins.resolve("artifact_store", "gone")
    with pytest.raises(ConfigError, match="is not a subclass of ArtifactStore"):
        plugins.resolve("artifact_store", "wrong")


def test_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown plug-in kind 'offline_engine'; known kinds"):
        plugins.available("offline_engine")


def test_every_builtin_kind_is_declared_and_loads() -> None:
    assert set(plugins.BUILTINS) == set(plugins.KINDS)
    for kind, names in plugins.BUILTINS.items():
        for name in names:
            assert isinstance(plugins.resolve(kind, name), type)


def test_a_missing_optional_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # None in sys.modules makes "import redis" fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.delitem(sys.modules, "griffin.features.online.redis", raising=False)
    with pytest.raises(ConfigError, match=r"pip install 'griffin-ml\[redis\]'"):
        plugins.resolve("online_store", "redis")
