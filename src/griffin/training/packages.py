"""Code packages: a project folder as one deterministic, content-addressed ``tar.gz``.

Which files go in honours ``.gitignore``: inside a git work tree, git itself decides
(``git ls-files --cached --others --exclude-standard``) and the HEAD commit is recorded;
elsewhere the ``.gitignore`` files are read with ``pathspec``. ``.git/``, ``__pycache__/``,
``*.pyc``, ``.venv/``, ``venv/`` and Griffin's data folder are always left out.

The package's digest is the sha256 of its manifest (path, size, sha256 and executable bit of
every file, sorted by path), never of the archive bytes, so the same files give the same digest
on any machine. The archive stores the manifest as ``griffin-package.json``;
:func:`verify_package` recomputes everything from the archive's real contents.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import posixpath
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from griffin.errors import InvalidArgument, PayloadTooLarge

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FEATURES_FILE",
    "MANIFEST_NAME",
    "Manifest",
    "Package",
    "PackageFile",
    "build_package",
    "collect_files",
    "extract_package",
    "read_manifest",
    "verify_package",
]

MANIFEST_NAME = "griffin-package.json"
# Where a package holds the project's feature definitions: training jobs build training sets
# with them, and servers and batch predictions run the on-demand views of the same code.
FEATURES_FILE = "features.py"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # the files' total size, before compression
MAX_UNPACKED_BYTES = 1024**3  # what a server accepts inside one archive
MAX_FILES = 100_000
FORMAT = 1
_ALWAYS_OUT_DIRS = frozenset({".git", "__pycache__", ".venv", "venv", ".griffin"})
_CHUNK = 1 << 20
_GIT_TIMEOUT_S = 60
_Chain = list[tuple[str, Any]]  # (folder relative to the root, its .gitignore spec)


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file of a package: relative posix path, size, sha256 and executable bit."""

    path: str
    size: int
    sha256: str
    executable: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "executable": self.executable,
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    """Every file of a package, sorted by path; ``digest`` identifies the package."""

    files: tuple[PackageFile, ...]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "files": [f.to_json() for f in self.files]}

    def canonical(self) -> bytes:
        """The manifest's canonical JSON bytes (sorted keys, no whitespace)."""
        return orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS)

    @property
    def digest(self) -> str:
        """sha256 of the canonical manifest JSON."""
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def size_bytes(self) -> int:
        """The files' total size, uncompressed."""
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, PackageFile]:
        return {f.path: f for f in self.files}

    @classmethod
    def from_json(cls, data: Any) -> Manifest:
        """Parse a stored manifest; anything malformed is an ``InvalidArgument``."""
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}")
            files = tuple(
                PackageFile(
                    path=_str(item["path"]),
                    size=_int(item["size"]),
                    sha256=_str(item["sha256"]),
                    executable=bool(item.get("executable", False)),
                )
                for item in data["files"]
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"malformed {MANIFEST_NAME}: {exc}") from None
        return cls(files)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}"[:100])
    return value


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a size, got {value!r}"[:100])
    return value


@dataclass(frozen=True, slots=True)
class Package:
    """A built package: the archive file, its manifest and where it came from.

    ``git_commit`` is the HEAD commit when the folder is in a git work tree (empty otherwise);
    ``dirty`` says the package holds changes not in that commit (edits or untracked files).
    """

    path: Path
    manifest: Manifest
    root: Path
    git_commit: str = ""
    dirty: bool = False
    skipped: tuple[str, ...] = field(default=())

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def files(self) -> int:
        return len(self.manifest.files)

    @property
    def size_bytes(self) -> int:
        """The archive's size on disk (compressed)."""
        return self.path.stat().st_size


# --- which files --------------------------------------------------------------------------


def _always_out(relative: str, excluded: Sequence[str]) -> bool:
    parts = relative.split("/")
    if any(p in _ALWAYS_OUT_DIRS for p in parts[:-1]) or parts[-1] in _ALWAYS_OUT_DIRS:
        return True
    if relative.endswith(".pyc"):
        return True
    return any(relative == e or relative.startswith(e + "/") for e in excluded)


def _git(root: Path, *args: str) -> str | None:
    """Output of ``git -C root args``, or None when git is missing or fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "surrogateescape") if done.returncode == 0 else None


def _git_files(root: Path) -> tuple[list[str], str, bool] | None:
    """The files git would keep (tracked + untracked not ignored), HEAD and dirtiness."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.strip() != "true":
        return None
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if listed is None:
        return None
    files = sorted({p for p in listed.split("\0") if p})
    head = (_git(root, "rev-parse", "--verify", "-q", "HEAD") or "").strip()
    status = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    dirty = not head or status is None or bool(status.strip())
    return files, head, dirty


def _ignore_specs_walk(root: Path) -> Iterator[str]:
    """Files under ``root`` not ignored by its ``.gitignore`` files (nested ones included)."""
    import pathspec

    def load(folder: Path) -> pathspec.GitIgnoreSpec | None:
        file = folder / ".gitignore"
        if not file.is_file():
            return None
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
        return pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(relative: str, is_dir: bool, specs: _Chain) -> bool:
        # Deeper .gitignore files win over shallower ones, the last matching pattern within one.
        verdict = False
        for base, spec in specs:
            local = relative[len(base) + 1 :] if base else relative
            candidate = local + "/" if is_dir else local
            for pattern in spec.patterns:  # per pattern: works on every pathspec >= 0.12
                if pattern.include is not None and pattern.match_file(candidate) is not None:
                    verdict = bool(pattern.include)
        return verdict

    def walk(folder: Path, base: str, specs: _Chain) -> Iterator[str]:
        own = load(folder)
        chain = [*specs, (base, own)] if own is not None else specs
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                relative = f"{base}/{entry.name}" if base else entry.name
                is_dir = entry.is_dir(follow_symlinks=False)
                if (is_dir and entry.name in _ALWAYS_OUT_DIRS) or ignored(relative, is_dir, chain):
                    continue
                if is_dir:
                    yield from walk(Path(entry.path), relative, chain)
                else:
                    yield relative

    yield from walk(root, "", [])


def collect_files(
    root: str | Path, *, exclude: Iterable[str | Path] = ()
) -> tuple[list[str], str, bool]:
    """The files a package of ``root`` holds, with the git HEAD commit and dirtiness.

    Args:
        root: the project folder.
        exclude: more folders or files to leave out (absolute, or relative to ``root``);
            those outside ``root`` are ignored.

    Returns:
        Sorted relative posix paths, the HEAD commit (empty outside git or before the first
        commit) and whether the package differs from that commit.
    """
    folder = Path(root).expanduser().resolve()
    if not folder.is_dir():
        raise InvalidArgument(f"not a folder: {str(root)!r}", details={"path": str(root)})
    excluded: list[str] = []
    for item in exclude:
        path = Path(item)
        path = (folder / path if not path.is_absolute() else path).resolve()
        if path != folder and path.is_relative_to(folder):
            excluded.append(path.relative_to(folder).as_posix())
    from_git = _git_files(folder)
    if from_git is not None:
        listed, head, dirty = from_git
    else:
        listed, head, dirty = list(_ignore_specs_walk(folder)), "", False
    return [p for p in listed if not _always_out(p, excluded)], head, dirty


# --- building ------------------------------------------------------------------------------


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _too_big(sizes: Mapping[str, int], max_bytes: int) -> PayloadTooLarge:
    biggest = sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    shown = ", ".join(f"{p} ({_human(s)})" for p, s in biggest)
    return PayloadTooLarge(
        f"the code package would hold {_human(sum(sizes.values()))}, over the limit of "
        f"{_human(max_bytes)}; the biggest files are {shown}. Leave data, models and "
        "environments out with .gitignore",
        details={"max_bytes": max_bytes, "biggest": [p for p, _ in biggest]},
    )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _tar_info(name: str, size: int, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if executable else 0o644
    info.type = tarfile.REGTYPE
    return info


def build_package(
    root: str | Path,
    dest_dir: str | Path | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    exclude: Iterable[str | Path] = (),
) -> Package:
    """Package the project folder ``root`` as a deterministic ``tar.gz``.

    Args:
        root: the project folder.
        dest_dir: where to write ``<digest>.tar.gz`` (default: a new temporary folder; the
            caller deletes it).
        max_bytes: the largest total size of the files, before compression.
        exclude: more paths to leave out (e.g. Griffin's data folder when it is inside).

    Raises:
        InvalidArgument: ``root`` is not a folder, or holds a file named
            ``griffin-package.json`` at its top.
        PayloadTooLarge: the files are over ``max_bytes`` (the message names the biggest).
    """
    folder = Path(root).expanduser().resolve()
    relative, head, dirty = collect_files(folder, exclude=exclude)
    if MANIFEST_NAME in relative:
        raise InvalidArgument(
            f"{folder / MANIFEST_NAME}: this name is reserved for the package manifest; "
            "rename the file or list it in .gitignore",
            details={"path": MANIFEST_NAME},
        )
    chosen: list[tuple[str, Path, os.stat_result]] = []
    skipped: list[str] = []
    for rel in relative:
        path = folder / rel
        try:
            info = path.stat()  # follows a symlink: its target is packaged when inside root
        except OSError:
            skipped.append(rel)  # deleted since it was committed, or a dangling link
            continue
        if not stat.S_ISREG(info.st_mode) or not path.resolve().is_relative_to(folder):
            skipped.append(rel)  # submodules, links to folders or outside the project
            continue
        chosen.append((rel, path, info))
    sizes = {rel: info.st_size for rel, _, info in chosen}
    if sum(sizes.values()) > max_bytes:
        raise _too_big(sizes, max_bytes)
    files = tuple(
        PackageFile(rel, info.st_size, _hash_file(path), bool(info.st_mode & stat.S_IXUSR))
        for rel, path, info in chosen
    )
    manifest = Manifest(files)
    out_dir = Path(dest_dir) if dest_dir is not None else Path(tempfile.mkdtemp("griffin-pkg-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest.digest}.tar.gz"
    partial = target.with_suffix(".part")
    with (
        partial.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        data = manifest.canonical()
        tar.addfile(_tar_info(MANIFEST_NAME, len(data), False), io.BytesIO(data))
        for item, (_, path, _) in zip(files, chosen, strict=True):
            with path.open("rb") as handle:
                tar.addfile(_tar_info(item.path, item.size, item.executable), handle)
    partial.replace(target)
    return Package(target, manifest, folder, head, dirty, tuple(skipped))


# --- reading -------------------------------------------------------------------------------


def _check_member_name(name: str) -> str:
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or posixpath.normpath(name) != name
        or any(part in ("", ".", "..") for part in name.split("/"))
    ):
        raise InvalidArgument(
            f"the package holds an unsafe path {name[:120]!r}: only clean relative paths "
            "are allowed",
            details={"path": name[:200]},
        )
    return name


def _open_tar(file: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(file, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidArgument(f"the code package is not a readable tar.gz: {exc}") from None


def _members(tar: tarfile.TarFile, max_files: int) -> Iterator[tarfile.TarInfo]:
    """Every member, checked: regular files with clean, unique names."""
    seen: set[str] = set()
    try:
        for member in tar:
            name = _check_member_name(member.name)
            if not member.isreg():
                what = "link" if member.issym() or member.islnk() else "non-regular file"
                raise InvalidArgument(
                    f"the package holds a {what} {name!r}: only regular files are allowed",
                    details={"path": name},
                )
            if name in seen:
                raise InvalidArgument(f"the package holds {name!r} twice", details={"path": name})
            seen.add(name)
            if len(seen) > max_files + 1:
                raise PayloadTooLarge(f"the package holds more than {max_files} files")
            yield member
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise InvalidArgument(f"the code package is corrupt: {exc}") from None


def read_manifest(file: str | Path) -> Manifest:
    """The manifest stored in a package, read without checking it against the files."""
    with _open_tar(Path(file)) as tar:
        for member in _members(tar, MAX_FILES):
            if member.name == MANIFEST_NAME:
                return _parse_manifest(tar, member)
    raise InvalidArgument(f"the code package has no {MANIFEST_NAME}")


def _parse_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Manifest:
    if member.size > 64 * 1024 * 1024:
        raise InvalidArgument(f"the package's {MANIFEST_NAME} is too large")
    handle = tar.extractfile(member)
    assert handle is not None  # a regular file
    try:
        return Manifest.from_json(orjson.loads(handle.read()))
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the package's {MANIFEST_NAME} is not JSON: {exc}") from None


def verify_package(
    file: str | Path,
    *,
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
    max_files: int = MAX_FILES,
) -> Manifest:
    """Check a package against its own contents and return the recomputed manifest.

    Every file is read and hashed; the stored manifest must list exactly those files with the
    same sizes, hashes and executable bits. The digest to trust is the returned manifest's.

    Raises:
        InvalidArgument: not a tar.gz; an absolute path, ``..``, a link, a device, a folder
            entry or a duplicate name; no manifest, or one that does not match the files.
        PayloadTooLarge: more than ``max_unpacked_bytes`` or ``max_files`` inside.
    """
    claimed: Manifest | None = None
    found: list[PackageFile] = []
    total = 0
    with _open_tar(Path(file)) as tar:
        for member in _members(tar, max_files):
            if member.name == MANIFEST_NAME:
                claimed = _parse_manifest(tar, member)
                continue
            total += member.size
            if total > max_unpacked_bytes:
                raise PayloadTooLarge(
                    f"the code package unpacks to more than {max_unpacked_bytes} bytes",
                    details={"max_bytes": max_unpacked_bytes},
                )
            handle = tar.extractfile(member)
            assert handle is not None
            digest = hashlib.sha256()
            size = 0
            try:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
            except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                raise InvalidArgument(f"the code package is corrupt: {exc}") from None
            executable = bool(member.mode & stat.S_IXUSR)
            found.append(PackageFile(member.name, size, digest.hexdigest(), executable))
    if claimed is None:
        raise InvalidArgument(f"the code package has no {MANIFEST_NAME}")
    actual = Manifest(tuple(sorted(found, key=lambda f: f.path)))
    if actual != claimed:
        have, said = actual.by_path(), claimed.by_path()
        wrong = sorted(p for p in have.keys() | said.keys() if have.get(p) != said.get(p))
        raise InvalidArgument(
            f"the code package's {MANIFEST_NAME} does not match its files: "
            f"{', '.join(wrong[:5]) or 'order differs'}",
            details={"paths": wrong[:20]},
        )
    return actual


def extract_package(
    file: str | Path, dest: str | Path, *, max_unpacked_bytes: int = MAX_UNPACKED_BYTES
) -> Manifest:
    """Verify a package, then write its files under ``dest`` (created if needed).

    Nothing is written outside ``dest``; files get mode 0755 or 0644 as recorded. The
    manifest itself is not written, it is returned.

    Raises:
        InvalidArgument: the package fails :func:`verify_package`, or ``dest`` holds a file
            where a folder is needed.
    """
    manifest = verify_package(file, max_unpacked_bytes=max_unpacked_bytes)
    target = Path(dest).expanduser().resolve()
    target.mkdir(parents=True, exist_ok=True)
    with _open_tar(Path(file)) as tar:
        for member in _members(tar, MAX_FILES):
            if member.name == MANIFEST_NAME:
                continue
            path = (target / member.name).resolve()
            if not path.is_relative_to(target):
                raise InvalidArgument(f"the package path {member.name!r} leaves {target}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with source, path.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
            except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
                raise InvalidArgument(
                    f"cannot extract {member.name!r} under {target}: {exc}"
                ) from None
            path.chmod(0o755 if member.mode & stat.S_IXUSR else 0o644)
    return manifest
