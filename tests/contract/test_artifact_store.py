"""One contract, every artifact store: local directory, fsspec on memory:// and on S3 (moto).

The S3 variant runs only where s3fs and moto[server] are installed.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import fsspec
import pytest

from griffin import plugins
from griffin.artifacts import (
    ArtifactInfo,
    ArtifactStore,
    FsspecArtifactStore,
    LocalArtifactStore,
    open_artifact_store,
)
from griffin.errors import (
    BackendUnavailable,
    ConfigError,
    Conflict,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
)

MiB = 1 << 20


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server for the whole session (skipped when s3fs or moto is not installed)."""
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _s3_store(endpoint: str) -> FsspecArtifactStore:
    options = {"key": "testing", "secret": "testing", "endpoint_url": endpoint}
    fs = fsspec.filesystem("s3", **options)
    bucket = f"griffin-contract-{uuid.uuid4().hex[:16]}"
    fs.mkdir(bucket)
    return FsspecArtifactStore(f"s3://{bucket}/artifacts", **options)


@pytest.fixture(params=["local", "memory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        opened = open_artifact_store(str(tmp_path / "store"))
        assert isinstance(opened, LocalArtifactStore)
        yield opened
        return
    if request.param == "s3":
        # A fresh bucket per test on the session's moto server, which holds it only in memory.
        yield _s3_store(request.getfixturevalue("s3_endpoint"))
        return
    root = f"memory://griffin-contract-{uuid.uuid4().hex}/artifacts"
    opened = open_artifact_store(root)
    assert isinstance(opened, FsspecArtifactStore)
    try:
        yield opened
    finally:
        fs, path = fsspec.core.url_to_fs(root)
        if fs.exists(path):
            fs.rm(path, recursive=True)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(store: ArtifactStore, key: str, data: bytes, max_bytes: int = 100 * MiB) -> ArtifactInfo:
    return store.write_stream(key, [data[:3], data[3:]], max_bytes=max_bytes)


def _read(store: ArtifactStore, key: str) -> bytes:
    with store.open_read(key) as handle:
        return handle.read()


def test_round_trip(store: ArtifactStore) -> None:
    data = b"hello, artifact"
    info = _write(store, "model/model.pkl", data)
    assert info == ArtifactInfo(path="model/model.pkl", size=len(data), sha256=_sha(data))
    assert _read(store, "model/model.pkl") == data
    assert b"".join(store.iter_read("model/model.pkl", chunk_size=4)) == data
    assert store.exists("model/model.pkl")
    assert not store.exists("model")  # a directory is not an artifact
    assert store.size("model/model.pkl") == len(data)


def test_empty_artifact(store: ArtifactStore) -> None:
    info = store.write_stream("empty.txt", [], max_bytes=0)
    assert (info.size, info.sha256) == (0, _sha(b""))
    assert _read(store, "empty.txt") == b""


def test_overwrite_replaces(store: ArtifactStore) -> None:
    _write(store, "a.txt", b"first version")
    _write(store, "a.txt", b"second")
    assert _read(store, "a.txt") == b"second"
    assert [item.path for item in store.list("")] == ["a.txt"]


def test_streams_a_large_generator(store: ArtifactStore) -> None:
    expected = hashlib.sha256()
    total = 20 * MiB

    def chunks() -> Iterator[bytes]:
        # Distinct, non-repeating blocks so an out-of-order or dropped chunk changes the hash.
        for index in range(total // (64 * 1024)):
            block = hashlib.sha256(index.to_bytes(8, "big")).digest() * 2048
            expected.update(block)
            yield block

    info = store.write_stream("big/blob.bin", chunks(), max_bytes=total)
    assert info.size == total
    assert info.sha256 == expected.hexdigest()
    read_back = hashlib.sha256()
    size = 0
    for chunk in store.iter_read("big/blob.bin"):
        assert len(chunk) <= MiB
        read_back.update(chunk)
        size += len(chunk)
    assert (size, read_back.hexdigest()) == (total, expected.hexdigest())
    assert store.size("big/blob.bin") == total


def test_list(store: ArtifactStore) -> None:
    for key, data in [("a.txt", b"1"), ("d/b.txt", b"22"), ("d/e/c.txt", b"333"), ("dd/f", b"")]:
        _write(store, key, data)
    assert store.list("") == [
        ArtifactInfo("a.txt", 1),
        ArtifactInfo("d/b.txt", 2),
        ArtifactInfo("d/e/c.txt", 3),
        ArtifactInfo("dd/f", 0),
    ]
    assert store.list("d") == [ArtifactInfo("b.txt", 2), ArtifactInfo("e/c.txt", 3)]
    assert store.list("d/") == store.list("d")
    assert store.list("missing") == []
    assert store.list("a.txt") == []


def test_in_flight_upload_is_invisible(store: ArtifactStore) -> None:
    _write(store, "dir/old.txt", b"old")
    seen: list[list[ArtifactInfo]] = []

    def chunks() -> Iterator[bytes]:
        yield b"partial"
        seen.append(store.list("dir"))
        yield b" rest"

    store.write_stream("dir/new.txt", chunks(), max_bytes=1000)
    assert seen == [[ArtifactInfo("old.txt", 3)]]
    assert _read(store, "dir/new.txt") == b"partial rest"


def test_delete(store: ArtifactStore) -> None:
    _write(store, "x/a.txt", b"a")
    _write(store, "x/b.txt", b"b")
    store.delete("x/a.txt")
    assert not store.exists("x/a.txt")
    assert [item.path for item in store.list("x")] == ["b.txt"]
    with pytest.raises(NotFound, match=r"x/a\.txt"):
        store.delete("x/a.txt")
    with pytest.raises(NotFound):
        store.delete("x")  # directories go through delete_prefix


def test_delete_prefix(store: ArtifactStore) -> None:
    for key in ["d/a", "d/e/b", "dd/c", "top"]:
        _write(store, key, b"data")
    store.delete_prefix("d")
    assert [item.path for item in store.list("")] == ["dd/c", "top"]
    store.delete_prefix("d")  # already gone: not an error
    store.delete_prefix("never/existed")
    store.delete_prefix("top")  # a file is its own subtree
    assert [item.path for item in store.list("")] == ["dd/c"]
    with pytest.raises(InvalidArgument):
        store.delete_prefix("")  # never "delete everything"


def test_not_found(store: ArtifactStore) -> None:
    _write(store, "dir/file", b"x")
    for key in ["missing.txt", "dir", "dir/file/below", "nope/deeper"]:
        with pytest.raises(NotFound, match=key):
            store.open_read(key)
        with pytest.raises(NotFound):
            store.iter_read(key)  # raised eagerly, before iteration
        with pytest.raises(NotFound):
            store.size(key)
        assert not store.exists(key)


def test_payload_too_large_leaves_nothing(store: ArtifactStore) -> None:
    with pytest.raises(PayloadTooLarge) as info:
        store.write_stream("deep/new/dir/f.bin", [b"12345", b"67890", b"X"], max_bytes=10)
    assert info.value.details["max_bytes"] == 10
    assert store.list("") == []
    assert not store.exists("deep/new/dir/f.bin")
    # An existing artifact survives a refused replacement untouched.
    _write(store, "keep.bin", b"original")
    with pytest.raises(PayloadTooLarge):
        store.write_stream("keep.bin", [b"a" * 6, b"b" * 6], max_bytes=10)
    assert _read(store, "keep.bin") == b"original"
    assert store.list("") == [ArtifactInfo("keep.bin", 8)]


def test_failing_source_leaves_nothing(store: ArtifactStore) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"some bytes"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.write_stream("upload/f.bin", chunks(), max_bytes=MiB)
    assert store.list("") == []


def test_async_write(store: ArtifactStore) -> None:
    blocks = [bytes([i]) * (300 * 1024) for i in range(10)]  # crosses the 1 MiB offload size
    data = b"".join(blocks)

    async def chunks() -> AsyncIterator[bytes]:
        for block in blocks:
            await anyio.sleep(0)
            yield block

    async def main() -> ArtifactInfo:
        return await store.awrite_stream("async/f.bin", chunks(), max_bytes=len(data))

    info = anyio.run(main)
    assert info == ArtifactInfo("async/f.bin", len(data), _sha(data))
    assert _read(store, "async/f.bin") == data


def test_async_write_over_limit_leaves_nothing(store: ArtifactStore) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * MiB

    async def main() -> None:
        await store.awrite_stream("async/big.bin", chunks(), max_bytes=2 * MiB + 1)

    with pytest.raises(PayloadTooLarge):
        anyio.run(main)
    assert store.list("") == []


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a//b", "%2e%2e/x", ".griffin-tmp-x", ""])
def test_store_refuses_unclean_keys(store: ArtifactStore, key: str) -> None:
    with pytest.raises(InvalidArgument):
        store.write_stream(key, [b"x"], max_bytes=10)
    with pytest.raises(InvalidArgument):
        store.open_read(key)
    with pytest.raises(InvalidArgument):
        store.exists(key)


def test_conflicting_shapes(store: ArtifactStore) -> None:
    _write(store, "dir/file", b"x")
    with pytest.raises(Conflict):
        store.write_stream("dir", [b"y"], max_bytes=10)  # a directory is in the way
    if store.root.startswith("s3://"):
        # Object-store keys are independent: "dir/file" and "dir/file/below" can coexist, and
        # refusing that would cost a HEAD per parent on every upload.
        store.write_stream("dir/file/below", [b"y"], max_bytes=10)
        assert store.list("dir") == [ArtifactInfo("file", 1), ArtifactInfo("file/below", 1)]
        return
    with pytest.raises(Conflict):
        store.write_stream("dir/file/below", [b"y"], max_bytes=10)  # a file is in the way
    assert store.list("") == [ArtifactInfo("dir/file", 1)]


# --- local only: symlinks ------------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path) -> tuple[LocalArtifactStore, Path]:
    """A store whose root holds symlinks to a file and a directory outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    root = tmp_path / "store"
    local = LocalArtifactStore(str(root))
    (root / "ok.txt").write_bytes(b"ok")
    (root / "leak").symlink_to(outside / "secret.txt")
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "sub").mkdir()
    (root / "sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    (root / "alias").symlink_to(root / "ok.txt")  # stays inside: allowed
    return local, outside


def test_symlinks_out_of_root_are_refused(planted: tuple[LocalArtifactStore, Path]) -> None:
    local, outside = planted
    for key in ["leak", "leakdir/secret.txt", "sub/up/outside/secret.txt"]:
        with pytest.raises(InvalidArgument, match="outside the artifact root"):
            local.open_read(key)
        with pytest.raises(InvalidArgument):
            local.size(key)
        with pytest.raises(InvalidArgument):
            local.delete(key)
    for key in ["leak", "leakdir/new.txt", "sub/up/outside/new.txt"]:
        with pytest.raises(InvalidArgument):
            local.write_stream(key, [b"overwritten"], max_bytes=100)
    for prefix in ["leakdir", "sub/up"]:
        with pytest.raises(InvalidArgument):
            local.list(prefix)
        with pytest.raises(InvalidArgument):
            local.delete_prefix(prefix)
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"secret"


def test_listing_skips_escaping_symlinks(planted: tuple[LocalArtifactStore, Path]) -> None:
    local, _ = planted
    assert local.list("") == [ArtifactInfo("alias", 2), ArtifactInfo("ok.txt", 2)]
    assert _read(local, "alias") == b"ok"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_files_are_not_artifacts(tmp_path: Path) -> None:
    root = tmp_path / "store"
    local = LocalArtifactStore(str(root))
    os.mkfifo(root / "pipe")  # opening this for reading would block a naive store forever
    with pytest.raises(NotFound):
        local.open_read("pipe")
    assert local.list("") == []
    assert not local.exists("pipe")


def test_local_refused_upload_leaves_no_directories(tmp_path: Path) -> None:
    root = tmp_path / "store"
    local = LocalArtifactStore(str(root))
    with pytest.raises(PayloadTooLarge):
        local.write_stream("a/b/c/f.bin", [b"x" * 11], max_bytes=10)
    assert os.listdir(root) == []


def test_local_accepts_file_url(tmp_path: Path) -> None:
    opened = open_artifact_store((tmp_path / "viaurl").as_uri())
    assert isinstance(opened, LocalArtifactStore)
    opened.write_stream("f", [b"x"], max_bytes=1)
    assert (tmp_path / "viaurl" / "f").read_bytes() == b"x"


# --- choosing a store ------------------------------------------------------------------------


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate an install without s3fs whether or not this environment has it: a None entry
    # in sys.modules makes the import fail, and fsspec must not have the class cached.
    monkeypatch.setitem(sys.modules, "s3fs", None)
    registry_module = importlib.import_module("fsspec.registry")  # fsspec.registry is a mapping
    monkeypatch.delitem(registry_module._registry, "s3", raising=False)
    with pytest.raises(BackendUnavailable, match=r"pip install 'griffin-ml\[s3\]'"):
        open_artifact_store("s3://bucket/griffin")


def test_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="nosuchscheme"):
        open_artifact_store("nosuchscheme://x/y")
    with pytest.raises(ConfigError):
        open_artifact_store("")


def test_registry_is_data(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = plugins.BUILTINS["artifact_store"]
    monkeypatch.setitem(registry, "broken", "griffin.nope:Missing")
    with pytest.raises(ConfigError, match=r"griffin\.nope:Missing"):
        open_artifact_store("broken://x")
    monkeypatch.setitem(registry, "notastore", "griffin.errors:from_payload")
    with pytest.raises(ConfigError, match="not a subclass of ArtifactStore"):
        open_artifact_store("notastore://x")
