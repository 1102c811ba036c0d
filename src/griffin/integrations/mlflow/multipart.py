"""MLflow's multipart artifact uploads (``/mlflow-artifacts/mpu/...``), served by Griffin itself.

The client's ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD`` splits a big artifact into parts:
``mpu/create`` answers part URLs on this server, parts are staged in the artifact store beside
the run's artifacts (``<project_id>/<run_id>/mlflow-uploads/<upload_id>/``), ``mpu/complete``
streams them, in order and checked against their ETags, into the final artifact, and
``mpu/abort`` removes them. Paths are those of the artifact proxy
(:mod:`griffin.integrations.mlflow.artifacts`).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from griffin.artifacts import ArtifactStore, clean_relative_path
from griffin.domain.accounts import Role
from griffin.errors import InvalidArgument, NotFound, PayloadTooLarge
from griffin.integrations.mlflow.artifacts import Target, call_target, client_gone
from griffin.integrations.mlflow.protocol import Call, Params, json_response, raw, rpc
from griffin.tracking import artifacts as service

__all__ = ["MAX_PARTS", "UPLOAD_TTL_S"]

_MPU = "/mlflow-artifacts/mpu"
# Beside the run's "artifacts" folder, so staged parts are never listed or served as artifacts
# and go with the run's prefix when it is removed.
_UPLOADS = "mlflow-uploads"
# S3's limit, which the client's chunking is written against.
MAX_PARTS = 10_000
# An upload neither completed nor aborted (a client that died) is swept after this long.
UPLOAD_TTL_S = 24 * 3600
_MAX_MANIFEST = 64 * 1024
_READ_CHUNK = 1 << 20
# Creation time (hex seconds) and 128 random bits: the time lets a sweep find stale uploads
# without reading them; the randomness keeps one upload's id from being guessed from another's.
_UPLOAD_ID = re.compile(r"^[0-9a-f]{1,16}-[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class _Upload:
    staging: str  # the store prefix holding the manifest and the parts
    path: str  # the artifact it becomes, relative to the run's artifact root
    num_parts: int


def _upload_id(value: str) -> str:
    if not _UPLOAD_ID.match(value):
        raise InvalidArgument(
            f"Invalid value {value[:80]!r} for parameter 'upload_id' supplied.",
            details={"field": "upload_id"},
        )
    return value


def _uploads_root(prefix: str) -> str:
    """``<project_id>/<run_id>/mlflow-uploads`` from the run's (id-derived) artifact prefix."""
    return f"{prefix.rsplit('/', 1)[0]}/{_UPLOADS}"


def _upload_path(target: Target, local_file: str) -> str:
    """The artifact a multipart upload makes: the URL names the folder, the body the file.

    ``local_file`` is the client's own path to the file (perhaps a Windows one); only its last
    component is used, as MLflow's artifact repositories do.
    """
    name = re.split(r"[\\/]", local_file)[-1]
    return clean_relative_path(f"{target.relative}/{name}" if target.relative else name)


def _open_upload(call: Call, target: Target, upload_id: str) -> _Upload:
    """The upload ``upload_id`` of the run, once the caller may write to the run."""
    prefix = service.run_prefix(
        call.platform, call.principal, target.run_id, Role.EDITOR, project_id=target.project_id
    )
    staging = f"{_uploads_root(prefix)}/{upload_id}"
    try:
        with call.platform.artifacts.open_read(f"{staging}/manifest.json") as handle:
            manifest = orjson.loads(handle.read(_MAX_MANIFEST))
    except NotFound:
        raise NotFound(
            f"multipart upload {upload_id} does not exist (completed, aborted or expired)",
            details={"upload_id": upload_id},
        ) from None
    return _Upload(staging, str(manifest["path"]), int(manifest["num_parts"]))


def _sweep(store: ArtifactStore, root: str, now: float) -> None:
    """Remove the run's uploads older than :data:`UPLOAD_TTL_S` (their clients gave up)."""
    stale = {
        upload_id
        for info in store.list(root)
        if _UPLOAD_ID.match(upload_id := info.path.split("/", 1)[0])
        and now - int(upload_id.split("-", 1)[0], 16) > UPLOAD_TTL_S
    }
    for upload_id in stale:
        store.delete_prefix(f"{root}/{upload_id}")


def _part_base(request: Request) -> str:
    """This server's URL for part uploads, as the client reached it (with any mount prefix)."""
    path = request.url.path
    mount = path[: path.index(f"{_MPU}/create/")]
    return str(request.url.replace(path=f"{mount}{_MPU}/part", query=""))


@rpc("POST", f"{_MPU}/create/{{path:path}}")
def create_upload(call: Call) -> dict[str, Any]:
    target = call_target(call)
    path = _upload_path(target, call.params.required("path"))
    num_parts = call.params.integer("num_parts", 1)
    assert num_parts is not None
    if not 0 <= num_parts <= MAX_PARTS:
        raise InvalidArgument(
            f"num_parts must be between 0 and {MAX_PARTS}, not {num_parts}",
            details={"field": "num_parts"},
        )
    prefix = service.run_prefix(
        call.platform, call.principal, target.run_id, Role.EDITOR, project_id=target.project_id
    )
    store = call.platform.artifacts
    now = time.time()
    _sweep(store, _uploads_root(prefix), now)
    upload_id = f"{int(now):x}-{secrets.token_hex(16)}"
    manifest = {"path": path, "num_parts": num_parts, "user": call.principal.user}
    store.write_stream(
        f"{_uploads_root(prefix)}/{upload_id}/manifest.json",
        [orjson.dumps(manifest)],
        max_bytes=_MAX_MANIFEST,
    )
    # The client PUTs parts with plain requests and only the headers given here, so the
    # caller's own credentials ride along: each part is authorised like any other call.
    auth = call.request.headers.get("authorization")
    headers = {"Authorization": auth} if auth else {}
    base = f"{_part_base(call.request)}/{target.project_id}/{target.run_id}/{upload_id}"
    credentials = [
        {"url": f"{base}/{number}", "part_number": number, "headers": headers}
        for number in range(1, num_parts + 1)
    ]
    return {"upload_id": upload_id, "credentials": credentials}


def _part_budget(store: ArtifactStore, upload: _Upload, name: str, limit: int) -> int:
    """Bytes part ``name`` may have: the artifact limit less the other parts already staged."""
    staged = sum(
        info.size
        for info in store.list(upload.staging)
        if info.path.startswith("part-") and info.path != name
    )
    if staged >= limit:
        raise _too_large(upload, limit)
    return limit - staged


def _too_large(upload: _Upload, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"artifact '{upload.path}' is larger than the limit of {limit} bytes "
        f"(the parts of multipart upload {posixpath.basename(upload.staging)})",
        details={"path": upload.path, "max_bytes": limit},
    )


def _part_name(number: int) -> str:
    return f"part-{number:05d}"


@raw("PUT", f"{_MPU}/part/{{project_id}}/{{run_id}}/{{upload_id}}/{{part_number}}")
async def upload_part(call: Call) -> Response:
    params = call.request.path_params
    target = Target(str(params["project_id"]), str(params["run_id"]), "")
    upload_id = _upload_id(str(params["upload_id"]))
    upload = await run_in_threadpool(_open_upload, call, target, upload_id)
    number = Params({"part_number": params["part_number"]}).integer("part_number")
    if number is None or not 1 <= number <= upload.num_parts:
        raise InvalidArgument(
            f"part_number must be between 1 and {upload.num_parts}",
            details={"field": "part_number"},
        )
    store = call.platform.artifacts
    name = _part_name(number)
    limit = call.platform.settings.max_artifact_bytes
    budget = await run_in_threadpool(_part_budget, store, upload, name, limit)
    try:
        info = await store.awrite_stream(
            f"{upload.staging}/{name}", call.request.stream(), max_bytes=budget
        )
    except ClientDisconnect:
        return client_gone()
    except PayloadTooLarge:
        # The store's message names its staging key and the bytes left; the caller knows the
        # artifact and the limit.
        raise _too_large(upload, limit) from None
    response = json_response({})
    response.headers["etag"] = f'"{info.sha256}"'
    return response


def _read_hashed(handle: BinaryIO, update: Callable[[bytes], None]) -> bytes:
    # One thread hop for the read and the hash: hashlib releases the GIL on big buffers.
    chunk = handle.read(_READ_CHUNK)
    update(chunk)
    return chunk


async def _assemble(
    store: ArtifactStore, upload: _Upload, etags: dict[int, str]
) -> AsyncIterator[bytes]:
    """The parts' bytes in order, each checked against the ETag its upload answered."""
    for number in range(1, upload.num_parts + 1):
        sha = hashlib.sha256()
        try:
            handle = await run_in_threadpool(
                store.open_read, f"{upload.staging}/{_part_name(number)}"
            )
        except NotFound:
            raise InvalidArgument(
                f"part {number} of upload {posixpath.basename(upload.staging)} was not uploaded",
                details={"field": "parts"},
            ) from None
        try:
            while chunk := await run_in_threadpool(_read_hashed, handle, sha.update):
                yield chunk
        finally:
            handle.close()
        expected = etags.get(number, "")
        if expected and expected != sha.hexdigest():
            # The store publishes only after the last chunk, so this leaves nothing behind.
            raise InvalidArgument(
                f"part {number} does not match its ETag; upload it again",
                details={"field": "parts"},
            )


@raw("POST", f"{_MPU}/complete/{{path:path}}")
async def complete_upload(call: Call) -> Response:
    target = call_target(call)
    body = Params.of_body(await call.request.body())
    path = _upload_path(target, body.required("path"))
    upload_id = _upload_id(body.required("upload_id"))
    upload = await run_in_threadpool(_open_upload, call, target, upload_id)
    if upload.path != path:
        raise InvalidArgument(
            f"upload {upload_id} is for '{upload.path}', not '{path}'",
            details={"field": "path"},
        )
    etags: dict[int, str] = {}
    for item in body.objects("parts"):
        part = Params(item)
        number = part.integer("part_number", required=True)
        assert number is not None
        etags[number] = (part.text("etag") or "").strip('"')
    if sorted(etags) != list(range(1, upload.num_parts + 1)):
        raise InvalidArgument(
            f"parts must list part_number 1 to {upload.num_parts} once each",
            details={"field": "parts"},
        )
    store = call.platform.artifacts
    await service.upload_artifact(
        call.platform,
        call.principal,
        target.run_id,
        path,
        _assemble(store, upload, etags),
        project_id=target.project_id,
    )
    await run_in_threadpool(store.delete_prefix, upload.staging)
    return json_response({})


@rpc("POST", f"{_MPU}/abort/{{path:path}}")
def abort_upload(call: Call) -> dict[str, Any]:
    target = call_target(call)
    upload_id = _upload_id(call.params.required("upload_id"))
    prefix = service.run_prefix(
        call.platform, call.principal, target.run_id, Role.EDITOR, project_id=target.project_id
    )
    # Idempotent, as S3's abort: the client aborts after any failure, even a failed create.
    call.platform.artifacts.delete_prefix(f"{_uploads_root(prefix)}/{upload_id}")
    return {}
