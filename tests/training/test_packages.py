"""Code packages: which files go in (.gitignore, with and without git), determinism, safety."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import orjson
import pytest

from griffin.errors import InvalidArgument, PayloadTooLarge
from griffin.training.packages import (
    MANIFEST_NAME,
    build_package,
    collect_files,
    extract_package,
    read_manifest,
    verify_package,
)

HAS_GIT = shutil.which("git") is not None


def make_project(root: Path) -> Path:
    files = {
        "model.py": "def train(ctx):\n    return 1\n",
        "lib/util.py": "X = 1\n",
        "lib/__pycache__/util.cpython-311.pyc": "junk",
        "stray.pyc": "junk",
        "data/big.csv": "a,b\n1,2\n",
        "logs/run.log": "log",
        "logs/keep.log": "kept by a negation",
        ".venv/lib/site.py": "venv",
        "venv/bin/python": "venv",
        ".griffin/griffin.db": "data folder",
        "notes/.gitignore": "*.tmp\n",
        "notes/a.tmp": "ignored by a nested .gitignore",
        "notes/a.md": "kept",
        "run.sh": "#!/bin/sh\n",
        ".gitignore": "data/\n*.log\n!keep.log\n",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "run.sh").chmod(0o755)
    return root


EXPECTED = [
    ".gitignore",
    "lib/util.py",
    "logs/keep.log",
    "model.py",
    "notes/.gitignore",
    "notes/a.md",
    "run.sh",
]


def git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_without_git_gitignore_files_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No git on PATH: the .gitignore files are read with pathspec.
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    root = make_project(tmp_path / "proj")
    files, commit, dirty = collect_files(root)
    assert files == EXPECTED
    assert (commit, dirty) == ("", False)


@pytest.mark.skipif(not HAS_GIT, reason="git is not installed")
def test_in_a_git_work_tree_git_decides(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    git(root, "init", "-q")
    git(root, "add", "model.py", ".gitignore")
    git(root, "commit", "-qm", "first")
    head = git(root, "rev-parse", "HEAD")
    package = build_package(root, tmp_path / "out")
    assert [f.path for f in package.manifest.files] == EXPECTED  # untracked files included
    assert package.git_commit == head
    assert package.dirty  # untracked files are not in the commit
    git(root, "add", "-A")
    git(root, "commit", "-qm", "all")
    clean = build_package(root, tmp_path / "out2")
    assert not clean.dirty
    assert clean.git_commit != head
    assert clean.digest == package.digest  # same files, same digest: commits are not content
    # A project in a subfolder of a repository packages only its own folder.
    sub = root / "lib"
    assert [f.path for f in build_package(sub, tmp_path / "out3").manifest.files] == ["util.py"]


def test_without_git_and_with_git_give_the_same_digest(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    first = build_package(root, tmp_path / "a")
    if HAS_GIT:
        git(root, "init", "-q")
        assert build_package(root, tmp_path / "b").digest == first.digest


def test_deterministic_and_mtime_independent(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    exclude = [root / ".griffin"]
    first = build_package(root, tmp_path / "a", exclude=exclude)
    second = build_package(root, tmp_path / "b", exclude=exclude)
    for path in root.rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    third = build_package(root, tmp_path / "c", exclude=exclude)
    assert first.digest == second.digest == third.digest
    assert first.path.read_bytes() == third.path.read_bytes()  # byte-identical archives
    assert first.path.name == f"{first.digest}.tar.gz"
    (root / "model.py").write_text("def train(ctx):\n    return 2\n")
    assert build_package(root, tmp_path / "d").digest != first.digest
    (root / "model.py").write_text("def train(ctx):\n    return 1\n")
    (root / "model.py").chmod(0o755)  # the executable bit is part of the content
    assert build_package(root, tmp_path / "e").digest != first.digest


def test_archive_layout_and_round_trip(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    package = build_package(root, tmp_path / "out")
    with tarfile.open(package.path, "r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == MANIFEST_NAME
    assert names[1:] == sorted(names[1:]) == EXPECTED
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    modes = {m.name: m.mode for m in members}
    assert modes["run.sh"] == 0o755
    assert modes["model.py"] == 0o644
    assert package.path.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime 0
    assert verify_package(package.path) == package.manifest
    assert read_manifest(package.path).digest == package.digest
    manifest = extract_package(package.path, tmp_path / "x")
    assert manifest.digest == package.digest
    assert (tmp_path / "x" / "lib" / "util.py").read_text() == "X = 1\n"
    assert os.access(tmp_path / "x" / "run.sh", os.X_OK)
    assert not (tmp_path / "x" / MANIFEST_NAME).exists()
    assert build_package(tmp_path / "x", tmp_path / "again").digest == package.digest


def test_size_limit_names_the_biggest_files(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    (root / "weights.bin").write_bytes(b"\0" * 5000)
    (root / "lib" / "table.parquet").write_bytes(b"\0" * 3000)
    with pytest.raises(PayloadTooLarge) as info:
        build_package(root, tmp_path / "out", max_bytes=4000)
    message = info.value.message
    assert "weights.bin" in message
    assert "lib/table.parquet" in message
    assert message.index("weights.bin") < message.index("lib/table.parquet")
    assert ".gitignore" in message
    assert not (tmp_path / "out").exists()  # nothing written


def test_reserved_manifest_name_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    (root / MANIFEST_NAME).write_text("{}")
    with pytest.raises(InvalidArgument, match="reserved"):
        build_package(root, tmp_path / "out")


def test_symlinks_inside_are_packaged_as_files_outside_skipped(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (root / "alias.py").symlink_to(root / "model.py")
    package = build_package(root, tmp_path / "out")
    paths = [f.path for f in package.manifest.files]
    assert "alias.py" in paths
    assert "leak.txt" not in paths
    assert "leak.txt" in package.skipped


# --- tampered and hostile archives ------------------------------------------------------------


def archive(tmp_path: Path, entries: list[tuple[tarfile.TarInfo, bytes]], name: str = "p") -> Path:
    path = tmp_path / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def regular(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    return info, data


def manifest_for(files: dict[str, bytes]) -> tuple[tarfile.TarInfo, bytes]:
    import hashlib

    listed = [
        {"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest(), "executable": False}
        for p, d in sorted(files.items())
    ]
    return regular(MANIFEST_NAME, orjson.dumps({"format": 1, "files": listed}))


def test_tampered_archive_is_refused(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    package = build_package(root, tmp_path / "out")
    with tarfile.open(package.path, "r:gz") as tar:
        entries = [
            (m, tar.extractfile(m).read())  # type: ignore[union-attr]
            for m in tar.getmembers()
        ]
    changed = [
        (regular(m.name, b"import os  # evil\n") if m.name == "model.py" else (m, d))
        for m, d in entries
    ]
    with pytest.raises(InvalidArgument, match=r"does not match its files: model\.py"):
        verify_package(archive(tmp_path, changed, "changed"))
    extra = [*entries, regular("extra.py", b"x")]
    with pytest.raises(InvalidArgument, match=r"extra\.py"):
        verify_package(archive(tmp_path, extra, "extra"))
    without = [(m, d) for m, d in entries if m.name != MANIFEST_NAME]
    with pytest.raises(InvalidArgument, match=r"has no griffin-package\.json"):
        verify_package(archive(tmp_path, without, "without"))
    (tmp_path / "garbage.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(InvalidArgument, match=r"not a readable tar\.gz"):
        verify_package(tmp_path / "garbage.tar.gz")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(package.path.read_bytes()[:-40])
    with pytest.raises(InvalidArgument):
        verify_package(truncated)


@pytest.mark.parametrize(
    "name", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "./a.py", "a//b.py"]
)
def test_unsafe_paths_are_refused(tmp_path: Path, name: str) -> None:
    files = {name: b"x"}
    path = archive(tmp_path, [manifest_for(files), regular(name, b"x")])
    with pytest.raises(InvalidArgument, match="unsafe path"):
        verify_package(path)
    with pytest.raises(InvalidArgument, match="unsafe path"):
        extract_package(path, tmp_path / "dest")
    assert not (tmp_path / "evil.py").exists()


def test_links_devices_and_duplicates_are_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("link.py")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    with pytest.raises(InvalidArgument, match="link"):
        verify_package(archive(tmp_path, [manifest_for({}), (link, b"")], "link"))
    hard = tarfile.TarInfo("hard.py")
    hard.type = tarfile.LNKTYPE
    hard.linkname = "model.py"
    with pytest.raises(InvalidArgument, match="link"):
        verify_package(archive(tmp_path, [manifest_for({}), (hard, b"")], "hard"))
    device = tarfile.TarInfo("dev")
    device.type = tarfile.CHRTYPE
    with pytest.raises(InvalidArgument, match="non-regular"):
        verify_package(archive(tmp_path, [manifest_for({}), (device, b"")], "dev"))
    twice = [manifest_for({"a.py": b"x"}), regular("a.py", b"x"), regular("a.py", b"x")]
    with pytest.raises(InvalidArgument, match="twice"):
        verify_package(archive(tmp_path, twice, "twice"))


def test_unpacked_size_limit(tmp_path: Path) -> None:
    data = b"\0" * 10_000
    path = archive(tmp_path, [manifest_for({"zeros.bin": data}), regular("zeros.bin", data)])
    assert verify_package(path).size_bytes == 10_000
    with pytest.raises(PayloadTooLarge):
        verify_package(path, max_unpacked_bytes=5_000)
