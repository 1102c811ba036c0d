"""Run artifacts: streamed into the artifact store under the run's own prefix.

The client supplies only a relative path; it is canonicalised once (no ``..``, absolute paths,
encoded traversal or backslashes) and joined under a prefix derived from ids, so no request can
reach a file outside its run.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterator
from contextlib import contextmanager

from starlette.concurrency import run_in_threadpool

from griffin.artifacts import clean_relative_path, join_under
from griffin.domain.accounts import Principal, Role
from griffin.domain.tracking import Artifact
from griffin.errors import Conflict, GriffinError, NotFound
from griffin.platform import Platform
from griffin.store import projects, runs
from griffin.store.orm.base import utcnow
from griffin.tracking.runs import artifact_prefix

__all__ = [
    "delete_artifacts",
    "download_artifact",
    "list_artifacts",
    "run_prefix",
    "upload_artifact",
]


def _prefix(
    platform: Platform,
    principal: Principal,
    run_id: str,
    role: Role,
    project_id: str | None = None,
) -> str:
    """The run's artifact prefix, once the principal may act on the run with ``role``."""
    with platform.db.session() as session:
        row = runs.get_row(session, run_id)
        if project_id is not None and row.project_id != project_id:
            # The same answer as for a missing run: a path that pairs a run with another
            # project's id must not tell the caller the run exists.
            raise NotFound(f"run {run_id} does not exist", details={"run_id": run_id})
        principal.require(role, projects.get_row_by_id(session, row.project_id).name)
        if role is not Role.VIEWER and row.lifecycle != "active":
            raise Conflict(f"run {run_id} is deleted", details={"run_id": run_id})
        return artifact_prefix(row.project_id, row.id)


def run_prefix(
    platform: Platform,
    principal: Principal,
    run_id: str,
    role: Role = Role.VIEWER,
    *,
    project_id: str | None = None,
) -> str:
    """The run's artifact store prefix once ``principal`` may act on it with ``role``.

    With ``project_id``, a run of another project is reported missing (paths that embed both
    ids, as MLflow's artifact URIs do, are checked against the run's real project).
    """
    return _prefix(platform, principal, run_id, role, project_id)


@contextmanager
def _as_run_path(key: str, relative: str) -> Iterator[None]:
    """Errors from the store name its internal key; the caller only knows the run's path."""
    try:
        yield
    except GriffinError as exc:
        details = {k: relative if v == key else v for k, v in exc.details.items()}
        raise type(exc)(exc.message.replace(key, relative), details=details) from None


async def upload_artifact(
    platform: Platform,
    principal: Principal,
    run_id: str,
    path: str,
    chunks: AsyncIterable[bytes],
    *,
    project_id: str | None = None,
) -> Artifact:
    """Stream ``chunks`` to ``path`` under the run; nothing is kept if the upload fails."""
    relative = clean_relative_path(path)
    prefix = await run_in_threadpool(_prefix, platform, principal, run_id, Role.EDITOR, project_id)
    key = join_under(prefix, relative)
    with _as_run_path(key, relative):
        info = await platform.artifacts.awrite_stream(
            key, chunks, max_bytes=platform.settings.max_artifact_bytes
        )
    artifact = Artifact(path=relative, size=info.size, sha256=info.sha256, created_at=utcnow())

    def record() -> None:
        with platform.db.session(write=True) as session:
            runs.add_artifact(session, run_id, artifact)

    await run_in_threadpool(record)
    return artifact


def list_artifacts(
    platform: Platform,
    principal: Principal,
    run_id: str,
    prefix: str = "",
    *,
    project_id: str | None = None,
) -> list[Artifact]:
    """Artifacts of a run, optionally under a folder ``prefix``."""
    _prefix(platform, principal, run_id, Role.VIEWER, project_id)
    clean = clean_relative_path(prefix) if prefix else ""
    with platform.db.session() as session:
        return runs.list_artifacts(session, run_id, clean)


def download_artifact(
    platform: Platform,
    principal: Principal,
    run_id: str,
    path: str,
    *,
    project_id: str | None = None,
) -> tuple[Artifact, Iterator[bytes]]:
    """The artifact's record and a chunked reader of its bytes."""
    relative = clean_relative_path(path)
    prefix = _prefix(platform, principal, run_id, Role.VIEWER, project_id)
    with platform.db.session() as session:
        found = [a for a in runs.list_artifacts(session, run_id) if a.path == relative]
    if not found:
        raise NotFound(
            f"run {run_id} has no artifact '{relative}'",
            details={"run_id": run_id, "path": relative},
        )
    key = join_under(prefix, relative)
    with _as_run_path(key, relative):
        return found[0], platform.artifacts.iter_read(key)


def delete_artifacts(
    platform: Platform,
    principal: Principal,
    run_id: str,
    path: str = "",
    *,
    project_id: str | None = None,
) -> int:
    """Delete the artifact at ``path`` or every artifact under the folder ``path``.

    ``""`` deletes all of the run's artifacts. A path with nothing under it is not an error
    (a DELETE is idempotent); the answer is how many recorded artifacts went.
    """
    relative = clean_relative_path(path) if path else ""
    prefix = _prefix(platform, principal, run_id, Role.EDITOR, project_id)
    with platform.db.session() as session:
        recorded = runs.list_artifacts(session, run_id)
    below = relative + "/"
    gone = [
        a.path for a in recorded if not relative or a.path == relative or a.path.startswith(below)
    ]
    # Bytes first, rows second: a failure in between leaves rows whose download answers "not
    # found", never files that no listing shows. A prefix delete removes a file or a folder,
    # and unlinks a symbolic link itself rather than what it points to.
    key = join_under(prefix, relative) if relative else prefix
    with _as_run_path(key, relative or "."):
        platform.artifacts.delete_prefix(key)
    if gone:
        with platform.db.session(write=True) as session:
            for artifact_path in gone:
                runs.delete_artifact(session, run_id, artifact_path)
    return len(gone)
