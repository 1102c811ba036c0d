"""Artifacts through the SDK: streamed uploads, verified downloads, path checks."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import griffin
from griffin.client import Client


def test_file_and_directory_round_trip(client: Client, tmp_path: Path) -> None:
    run = client.create_run("files")
    single = tmp_path / "notes.txt"
    single.write_text("hello griffin\n")
    (uploaded,) = client.log_artifact(run.id, single)
    assert uploaded.path == "notes.txt"
    assert uploaded.size == 14
    assert uploaded.sha256 == hashlib.sha256(b"hello griffin\n").hexdigest()

    tree = tmp_path / "model"
    (tree / "weights").mkdir(parents=True)
    (tree / "config.json").write_text('{"layers": 3}')
    (tree / "weights" / "w 1.bin").write_bytes(bytes(range(256)))
    uploaded_tree = client.log_artifact(run.id, tree, artifact_path="export/v1")
    assert [a.path for a in uploaded_tree] == [
        "export/v1/config.json",
        "export/v1/weights/w 1.bin",
    ]

    assert [a.path for a in client.list_artifacts(run.id)] == [
        "export/v1/config.json",
        "export/v1/weights/w 1.bin",
        "notes.txt",
    ]
    listed = client.list_artifacts(run.id)
    assert all(a.created_at is not None and a.created_at.tzinfo is not None for a in listed)
    assert [a.path for a in client.list_artifacts(run.id, prefix="export/v1/weights")] == [
        "export/v1/weights/w 1.bin"
    ]

    out = tmp_path / "out"
    got = client.download_artifact(run.id, "export/v1/weights/w 1.bin", out)
    assert got == out / "export/v1/weights/w 1.bin"
    assert got.read_bytes() == bytes(range(256))
    assert client.download_artifact(run.id, "notes.txt", out).read_text() == "hello griffin\n"
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["notes.txt", "w 1.bin"]


def test_five_megabyte_file_streams_and_matches(client: Client, tmp_path: Path) -> None:
    run = client.create_run("big")
    big = tmp_path / "big.bin"
    data = os.urandom(5 * 1024 * 1024 + 123)  # not a multiple of the 1 MiB chunk
    big.write_bytes(data)
    with griffin.start_run("big", client=client) as active:
        (uploaded,) = active.log_artifact(big, "blobs")
    assert uploaded.size == len(data)
    assert uploaded.sha256 == hashlib.sha256(data).hexdigest()
    got = client.download_artifact(active.id, "blobs/big.bin", tmp_path / "dl")
    assert hashlib.sha256(got.read_bytes()).hexdigest() == uploaded.sha256
    assert not [p for p in got.parent.iterdir() if p.name.endswith(".part")]
    assert client.list_artifacts(run.id) == []


def test_traversal_is_refused_by_the_sdk(client: Client, tmp_path: Path) -> None:
    run = client.create_run("traversal")
    source = tmp_path / "src" / "f.txt"
    source.parent.mkdir()
    source.write_text("x")
    for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", "%2e%2e/x", "a\\..\\x"]:
        with pytest.raises(griffin.InvalidArgument, match="invalid artifact path"):
            client.log_artifact(run.id, source, artifact_path=bad)
        with pytest.raises(griffin.InvalidArgument, match="invalid artifact path"):
            client.download_artifact(run.id, bad, tmp_path / "dl" / "inner")
        with pytest.raises(griffin.InvalidArgument, match="invalid artifact path"):
            client.list_artifacts(run.id, prefix=bad)
    assert client.list_artifacts(run.id) == []
    assert not (tmp_path / "x").exists()
    assert not (tmp_path / "dl" / "x").exists()


def test_missing_artifact_and_missing_file(client: Client, tmp_path: Path) -> None:
    run = client.create_run("missing")
    out = tmp_path / "out"
    with pytest.raises(griffin.NotFound, match=r"nothing\.bin"):
        client.download_artifact(run.id, "nothing.bin", out)
    assert list(out.iterdir()) == []  # no partial file left behind
    with pytest.raises(griffin.NotFound, match="no such file"):
        client.log_artifact(run.id, tmp_path / "absent.txt")
