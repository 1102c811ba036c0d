"""The Model Store: plan and apply a project's model definitions, keep their code packages.

``plan`` compares each definition with its newest stored version: a new version is written
when the spec's fingerprint or the code package's digest changed. ``apply`` writes the plan in
one transaction. Definitions missing from the project are reported, never deleted. Code
packages are content-addressed: stored once per project at ``packages/<project>/<digest>.tar.gz``
after the server has recomputed their digest from their contents.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, Iterator, Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from griffin.artifacts import join_under, uploads
from griffin.domain.accounts import Principal, Role
from griffin.domain.features import SpecChange
from griffin.domain.model_definitions import (
    DefinitionDiff,
    DefinitionVersion,
    FileChange,
    ModelDefinition,
    ModelDefinitionSpec,
    ModelPlan,
    ModelPlanItem,
    check_code_digest,
    check_git_commit,
)
from griffin.errors import InvalidArgument, NotFound
from griffin.features.registry import diff_specs
from griffin.platform import Platform
from griffin.store import model_definitions as store
from griffin.store import projects
from griffin.store.orm.accounts import ProjectRow
from griffin.store.orm.model_definitions import ModelDefinitionRow, ModelDefinitionVersionRow
from griffin.store.session import Database
from griffin.training import packages

__all__ = [
    "apply",
    "check_upload",
    "definition_versions",
    "diff",
    "get_definition",
    "has_package",
    "list_definitions",
    "open_package",
    "package_key",
    "plan",
    "spool",
    "store_package",
]

_MAX_CHANGE = 1000  # characters of a version's change summary


def package_key(project: str, digest: str) -> str:
    """Where a package lives in the artifact store: derived from a checked digest only."""
    return join_under(f"packages/{project}", f"{check_code_digest(digest)}.tar.gz")


def max_upload_bytes(platform: Platform) -> int:
    """The largest package body the server reads."""
    return min(platform.settings.max_artifact_bytes, packages.MAX_UNPACKED_BYTES)


# --- plan and apply ------------------------------------------------------------------------


def _summary(item: ModelPlanItem) -> str:
    text = item.describe() or "changed"
    return text if len(text) <= _MAX_CHANGE else text[: _MAX_CHANGE - 3] + "..."


def _check_specs(specs: Sequence[ModelDefinitionSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise InvalidArgument(
                f"model definition {spec.name!r} is given twice; names must be unique",
                details={"name": spec.name, "field": "name"},
            )
        seen.add(spec.name)


def _plan(
    session: Session,
    project: str,
    project_row: ProjectRow,
    specs: Sequence[ModelDefinitionSpec],
    code_digest: str,
    git_commit: str,
) -> ModelPlan:
    stored = {row.name: (row, ver) for row, ver in store.latest(session, project_row)}
    items: list[ModelPlanItem] = []
    for spec in sorted(specs, key=lambda s: s.name):
        found = stored.pop(spec.name, None)
        if found is None:
            items.append(
                ModelPlanItem("create", spec.name, None, 1, (), bool(code_digest), "", code_digest)
            )
            continue
        row, ver = found
        code_changed = ver.code_digest != code_digest
        if ver.fingerprint == spec.fingerprint() and not code_changed:
            items.append(
                ModelPlanItem(
                    "unchanged", spec.name, row.latest_version, code_digest=ver.code_digest
                )
            )
            continue
        changes = tuple(diff_specs(ver.spec, spec.to_json()))
        items.append(
            ModelPlanItem(
                "update",
                spec.name,
                row.latest_version,
                row.latest_version + 1,
                changes,
                code_changed,
                ver.code_digest,
                code_digest,
            )
        )
    items.extend(
        ModelPlanItem("not_in_definitions", name, row.latest_version, code_digest=ver.code_digest)
        for name, (row, ver) in sorted(stored.items())
    )
    return ModelPlan(project, tuple(items), code_digest, git_commit)


def plan(
    platform: Platform,
    principal: Principal,
    project: str,
    specs: Sequence[ModelDefinitionSpec],
    *,
    code_digest: str = "",
    git_commit: str = "",
) -> ModelPlan:
    """What ``apply`` would write: definitions to create and update (with diffs), the rest.

    Raises:
        InvalidArgument: two specs with one name, a malformed digest or commit.
        NotFound: no such project.
    """
    principal.require(Role.VIEWER, project)
    _check_specs(specs)
    code_digest, git_commit = check_code_digest(code_digest), check_git_commit(git_commit)
    with platform.db.session() as session:
        project_row = projects.get_row(session, project)
        return _plan(session, project, project_row, specs, code_digest, git_commit)


def apply(
    platform: Platform,
    principal: Principal,
    project: str,
    specs: Sequence[ModelDefinitionSpec],
    *,
    code_digest: str = "",
    git_commit: str = "",
) -> ModelPlan:
    """Write the plan in one transaction; unchanged definitions write nothing (editor).

    Raises:
        InvalidArgument: two specs with one name, a malformed digest or commit, or a
            ``code_digest`` whose package was not uploaded first.
        PermissionDenied: the principal cannot edit the project.
    """
    principal.require(Role.EDITOR, project)
    _check_specs(specs)
    code_digest, git_commit = check_code_digest(code_digest), check_git_commit(git_commit)
    if code_digest and not platform.artifacts.exists(package_key(project, code_digest)):
        raise InvalidArgument(
            f"code package {code_digest[:12]} is not stored in project '{project}': upload it "
            f"first (PUT /projects/{project}/packages/{code_digest})",
            details={"code_digest": code_digest},
        )
    by_name = {s.name: s for s in specs}
    with platform.db.session(write=True) as session:
        project_row = projects.get_row(session, project)
        planned = _plan(session, project, project_row, specs, code_digest, git_commit)
        for item in planned.items:
            if item.action not in ("create", "update"):
                continue
            spec = by_name[item.name]
            store.add_version(
                session,
                project_row,
                store.find_row(session, project_row, item.name),
                spec.to_json(),
                fingerprint=spec.fingerprint(),
                code_digest=code_digest,
                git_commit=git_commit,
                user=principal.user,
                change="created" if item.action == "create" else _summary(item),
            )
    return ModelPlan(project, planned.items, code_digest, git_commit, applied=True)


# --- reading -------------------------------------------------------------------------------


def _not_found(session: Session, project_row: ProjectRow, project: str, name: str) -> NotFound:
    close = difflib.get_close_matches(name, store.names(session, project_row), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return NotFound(
        f"model definition '{name}' is not in the Model Store of project '{project}'{hint}",
        details={"name": name, "project": project, "close_matches": close},
    )


def _find(
    session: Session, project: str, name: str
) -> tuple[ModelDefinitionRow, list[ModelDefinitionVersionRow]]:
    project_row = projects.get_row(session, project)
    row = store.find_row(session, project_row, name)
    if row is None:
        raise _not_found(session, project_row, project, name)
    return row, store.versions_of(session, row.id)


def _pick(
    name: str, row: ModelDefinitionRow, history: list[ModelDefinitionVersionRow], version: int
) -> ModelDefinitionVersionRow:
    chosen = next((v for v in history if v.version == version), None)
    if chosen is None:
        raise NotFound(
            f"model definition '{name}' has no version {version} "
            f"(versions 1 to {row.latest_version})",
            details={"name": name, "version": version},
        )
    return chosen


def list_definitions(
    db: Database, principal: Principal, project: str, *, query: str | None = None
) -> list[ModelDefinition]:
    """Every definition at its latest version, by name; ``query`` filters on free text
    (name, description, owner, tags, runtime, features)."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        rows = store.latest(session, projects.get_row(session, project))
        found = [store.to_domain(project, row, ver) for row, ver in rows]
    if not query:
        return found
    needle = query.lower()
    return [
        d
        for d in found
        if needle
        in " ".join(
            [
                d.name,
                d.description,
                d.owner,
                d.runtime or "",
                d.features or "",
                *(f"{k}={v}" for k, v in d.tags.items()),
            ]
        ).lower()
    ]


def get_definition(
    db: Database, principal: Principal, project: str, name: str, version: int | None = None
) -> ModelDefinition:
    """One definition at ``version`` (default: latest), with the history of its versions.

    Raises:
        NotFound: no such definition (naming the closest names) or version.
    """
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        row, history = _find(session, project, name)
        chosen = _pick(name, row, history, row.latest_version if version is None else version)
        return store.to_domain(project, row, chosen, history)


def definition_versions(
    db: Database, principal: Principal, project: str, name: str
) -> list[DefinitionVersion]:
    """Every version of a definition, oldest first."""
    principal.require(Role.VIEWER, project)
    with db.session() as session:
        _, history = _find(session, project, name)
        return [store.to_version(v) for v in history]


def diff(
    platform: Platform,
    principal: Principal,
    project: str,
    name: str,
    from_version: int | None = None,
    to_version: int | None = None,
) -> DefinitionDiff:
    """How two versions differ: spec fields, code digest and, when both packages are stored,
    the files added, removed and modified.

    ``to_version`` defaults to the latest, ``from_version`` to the one before it.

    Raises:
        NotFound: no such definition or version.
    """
    principal.require(Role.VIEWER, project)
    with platform.db.session() as session:
        row, history = _find(session, project, name)
        newer = _pick(name, row, history, row.latest_version if to_version is None else to_version)
        older_number = max(newer.version - 1, 1) if from_version is None else from_version
        older = _pick(name, row, history, older_number)
        old_spec, new_spec = dict(older.spec), dict(newer.spec)
        old_code, new_code = older.code_digest, newer.code_digest
    files: tuple[FileChange, ...] = ()
    compared = False
    if old_code and new_code:
        if old_code == new_code:
            compared = True
        else:
            old_manifest = _stored_manifest(platform, project, old_code)
            new_manifest = _stored_manifest(platform, project, new_code)
            if old_manifest is not None and new_manifest is not None:
                compared = True
                files = _file_changes(old_manifest, new_manifest)
    changes: tuple[SpecChange, ...] = tuple(diff_specs(old_spec, new_spec))
    return DefinitionDiff(
        project=project,
        name=name,
        from_version=older.version,
        to_version=newer.version,
        changes=changes,
        code_changed=old_code != new_code,
        from_code_digest=old_code,
        to_code_digest=new_code,
        files_compared=compared,
        files=files,
    )


def _file_changes(old: packages.Manifest, new: packages.Manifest) -> tuple[FileChange, ...]:
    before, after = old.by_path(), new.by_path()
    changes: list[FileChange] = []
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a is None and b is not None:
            changes.append(FileChange(path, "added", None, b.size))
        elif b is None and a is not None:
            changes.append(FileChange(path, "removed", a.size, None))
        elif a is not None and b is not None and a != b:
            changes.append(FileChange(path, "modified", a.size, b.size))
    return tuple(changes)


def _stored_manifest(platform: Platform, project: str, digest: str) -> packages.Manifest | None:
    key = package_key(project, digest)
    if not platform.artifacts.exists(key):
        return None
    with _downloaded(platform, key) as path:
        # Verified when it was stored: reading the manifest is enough here.
        return packages.read_manifest(path)


@contextlib.contextmanager
def _downloaded(platform: Platform, key: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="griffin-package-", suffix=".tar.gz")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in platform.artifacts.iter_read(key):
                handle.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


# --- packages ------------------------------------------------------------------------------


def check_upload(principal: Principal, project: str, digest: str) -> None:
    """Raise unless ``principal`` may upload package ``digest`` (a valid digest) to ``project``.

    The router calls this before it reads the body, so a refused upload is not read first.
    """
    principal.require(Role.EDITOR, project)
    if not digest:
        raise InvalidArgument("a package digest is required", details={"field": "digest"})
    check_code_digest(digest)


async def spool(chunks: AsyncIterable[bytes], max_bytes: int) -> Path:
    """Stream a package upload to a temporary file, refusing it beyond ``max_bytes``."""
    return await uploads.spool(
        chunks, max_bytes, what="the code package", prefix="griffin-package-", suffix=".tar.gz"
    )


def store_package(
    platform: Platform, principal: Principal, project: str, path: Path, digest: str | None = None
) -> str:
    """Verify the package at ``path`` and store it under its digest; return the digest.

    Storing a package that is already there writes nothing (packages are immutable).

    Raises:
        InvalidArgument: the package fails verification, or its recomputed digest is not
            ``digest`` (when given).
        NotFound: no such project.
    """
    principal.require(Role.EDITOR, project)
    if digest is not None:
        check_upload(principal, project, digest)
    with platform.db.session() as session:
        projects.get_row(session, project)
    manifest = packages.verify_package(path)
    if digest is not None and manifest.digest != digest:
        raise InvalidArgument(
            f"the package's digest is {manifest.digest}, not {digest} as named in the URL: "
            "its contents do not match its name",
            details={"digest": digest, "actual": manifest.digest},
        )
    key = package_key(project, manifest.digest)
    if not platform.artifacts.exists(key):
        with path.open("rb") as handle:
            chunks = iter(lambda: handle.read(1 << 20), b"")
            platform.artifacts.write_stream(key, chunks, max_bytes=max_upload_bytes(platform))
    return manifest.digest


def has_package(platform: Platform, principal: Principal, project: str, digest: str) -> int:
    """The stored package's size in bytes.

    Raises:
        NotFound: no such package in the project.
    """
    principal.require(Role.VIEWER, project)
    key = package_key(project, digest)
    with platform.db.session() as session:
        projects.get_row(session, project)
    if not platform.artifacts.exists(key):
        raise NotFound(
            f"code package {digest[:12]} is not stored in project '{project}'",
            details={"digest": digest, "project": project},
        )
    return platform.artifacts.size(key)


def open_package(
    platform: Platform, principal: Principal, project: str, digest: str
) -> tuple[int, str, Iterator[bytes]]:
    """A stored package's size, the sha256 of its archive bytes, and a chunked reader.

    Raises:
        NotFound: no such package in the project.
    """
    size = has_package(platform, principal, project, digest)
    key = package_key(project, digest)
    sha = hashlib.sha256()
    for chunk in platform.artifacts.iter_read(key):
        sha.update(chunk)
    return size, sha.hexdigest(), platform.artifacts.iter_read(key)
