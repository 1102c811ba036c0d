"""MLflow's artifact proxy (``/mlflow-artifacts/...``) and ``artifacts/list`` on Griffin's store.

A run's MLflow artifact URI is ``mlflow-artifacts:/<project_id>/<run_id>/artifacts``, so every
path the client sends is ``<project_id>/<run_id>/artifacts/<relative>``. The path is
canonicalised once (:func:`~griffin.artifacts.clean_relative_path`), the run is checked to exist
in that project, and the work is done by the tracking services, which check roles and record
each artifact in the run's table (so ``griffin runs`` sees what MLflow logged). Bodies stream
both ways; nothing is buffered whole and nothing is ever unpickled.

Multipart uploads (``mpu/...``) are in :mod:`griffin.integrations.mlflow.multipart`.
"""

from __future__ import annotations

import mimetypes
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from griffin.artifacts import clean_relative_path
from griffin.domain.tracking import Artifact
from griffin.errors import NotFound
from griffin.integrations.mlflow.entities import ARTIFACTS_SCHEME
from griffin.integrations.mlflow.protocol import Call, json_response, raw, rpc
from griffin.tracking import artifacts as service

__all__ = [
    "Target",
    "call_target",
    "children",
    "client_gone",
    "mime_type",
    "parse_path",
]

_ARTIFACTS = "/mlflow-artifacts/artifacts"
# MLflow serves these as text/plain whatever mimetypes says (mlflow.utils.mime_type_utils);
# names without an extension (MLmodel) are matched whole.
# fmt: off
_TEXT_EXTENSIONS = frozenset({
    "txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon",
    "toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst", "ipynb",
    "MLmodel", "MLproject",
})
# fmt: on


@dataclass(frozen=True, slots=True)
class Target:
    """Where an MLflow artifact path points: a run, and a path under its artifact root."""

    project_id: str
    run_id: str
    relative: str  # "" for the run's artifact root


def parse_path(path: str) -> Target:
    """Split ``<project_id>/<run_id>/artifacts[/<relative>]``, refusing anything else."""
    clean = clean_relative_path(path)
    parts = clean.split("/", 3)
    if len(parts) < 3 or parts[2] != "artifacts":
        raise NotFound(
            f"no artifact at '{clean}': Griffin's MLflow artifact paths are "
            "<project_id>/<run_id>/artifacts/<path>, as in a run's artifact_uri",
            details={"path": clean},
        )
    return Target(parts[0], parts[1], parts[3] if len(parts) == 4 else "")


def mime_type(name: str) -> str:
    """The Content-Type MLflow's server sends for a file called ``name``."""
    extension = posixpath.splitext(name)[1].replace(".", "") or name
    if extension in _TEXT_EXTENSIONS:
        return "text/plain"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def children(artifacts: list[Artifact], folder: str) -> list[dict[str, Any]]:
    """The immediate children of ``folder`` as MLflow ``FileInfo``s named relative to it.

    Folders are not stored: they are the path prefixes of recorded artifacts. A ``folder``
    that names a file has no children, as in MLflow.
    """
    base = f"{folder}/" if folder else ""
    files: dict[str, int] = {}
    folders: set[str] = set()
    for artifact in artifacts:
        if not artifact.path.startswith(base):
            continue
        head, sep, _ = artifact.path[len(base) :].partition("/")
        if sep:
            folders.add(head)
        else:
            files[head] = artifact.size
    entries: list[dict[str, Any]] = [{"path": name, "is_dir": True} for name in folders]
    entries += [{"path": n, "is_dir": False, "file_size": s} for n, s in files.items()]
    return sorted(entries, key=lambda entry: str(entry["path"]))


def _attachment(name: str) -> str:
    """A Content-Disposition that makes browsers save, never render, an artifact."""
    fallback = "".join(c if c.isascii() and c not in '"\\' else "_" for c in name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def call_target(call: Call) -> Target:
    """The :class:`Target` named by the request's ``path`` path parameter."""
    return parse_path(str(call.request.path_params.get("path", "")))


# --- the artifact proxy: PUT, GET, list, DELETE ------------------------------------------


@raw("PUT", f"{_ARTIFACTS}/{{path:path}}")
async def upload(call: Call) -> Response:
    target = call_target(call)
    try:
        await service.upload_artifact(
            call.platform,
            call.principal,
            target.run_id,
            target.relative,
            call.request.stream(),
            project_id=target.project_id,
        )
    except ClientDisconnect:
        return client_gone()
    return json_response({})


def client_gone() -> Response:
    """The client went away mid-upload: nothing was kept, and nobody reads the answer (this
    keeps a dropped connection out of the error log)."""
    return Response(status_code=400)


@raw("GET", f"{_ARTIFACTS}/{{path:path}}")
async def download(call: Call) -> Response:
    target = call_target(call)
    artifact, chunks = await run_in_threadpool(
        service.download_artifact,
        call.platform,
        call.principal,
        target.run_id,
        target.relative,
        project_id=target.project_id,
    )
    name = posixpath.basename(artifact.path)
    headers = {
        "content-length": str(artifact.size),
        "content-disposition": _attachment(name),
        # The artifact is the uploader's content on this server's origin: no sniffing it into
        # HTML, and no scripts should a browser be talked into rendering it anyway.
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
    }
    return StreamingResponse(chunks, media_type=mime_type(name), headers=headers)


@rpc("GET", _ARTIFACTS)
def list_files(call: Call) -> dict[str, Any]:
    path = call.params.text("path") or ""
    if not path.strip("/"):
        # The store's root holds every project's runs; it is not browsable through MLflow.
        return {"files": []}
    clean = clean_relative_path(path)
    parts = clean.split("/")
    if len(parts) < 3:
        return {"files": _above_run(call, parts)}
    target = parse_path(clean)
    listed = service.list_artifacts(
        call.platform,
        call.principal,
        target.run_id,
        target.relative,
        project_id=target.project_id,
    )
    return {"files": children(listed, target.relative)}


def _above_run(call: Call, parts: list[str]) -> list[dict[str, Any]]:
    """``<project_id>`` lists nothing (runs are found through the tracking API);
    ``<project_id>/<run_id>`` holds the run's ``artifacts`` folder."""
    if len(parts) == 1:
        return []
    service.run_prefix(call.platform, call.principal, parts[1], project_id=parts[0])
    return [{"path": "artifacts", "is_dir": True}]


@rpc("DELETE", f"{_ARTIFACTS}/{{path:path}}")
def delete(call: Call) -> dict[str, Any]:
    target = call_target(call)
    service.delete_artifacts(
        call.platform,
        call.principal,
        target.run_id,
        target.relative,
        project_id=target.project_id,
    )
    return {}


@rpc("GET", "/mlflow/artifacts/list")
def list_run_artifacts(call: Call) -> dict[str, Any]:
    """The tracking API's listing: paths relative to the run's artifact root."""
    run_id = call.params.text("run_id") or call.params.text("run_uuid")
    if not run_id:
        raise call.params.missing("run_id")
    folder = call.params.text("path") or ""
    prefix = service.run_prefix(call.platform, call.principal, run_id)
    clean = clean_relative_path(folder) if folder.strip("/") else ""
    listed = service.list_artifacts(call.platform, call.principal, run_id, clean)
    files = [
        {**entry, "path": f"{clean}/{entry['path']}" if clean else entry["path"]}
        for entry in children(listed, clean)
    ]
    # The prefix is the store key that ends every Griffin run's artifact_uri
    # (entities.store_key), so this is the run's entities.run_artifact_uri.
    return {"root_uri": ARTIFACTS_SCHEME + prefix, "files": files}
