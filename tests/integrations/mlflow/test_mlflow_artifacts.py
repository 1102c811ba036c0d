"""MLflow's artifact proxy on Griffin: the wire format, the real client, and path safety."""

from __future__ import annotations

import hashlib
import http.client
import os
import resource
import socket
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from griffin.accounts import service as accounts
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.tracking import Artifact, Run
from griffin.integrations.mlflow.artifacts import children, mime_type, parse_path
from griffin.integrations.mlflow.entities import store_key
from griffin.platform import Platform
from griffin.store import projects
from griffin.store import runs as run_rows
from griffin.tracking import artifacts as run_artifacts
from griffin.tracking.runs import create_run

ADMIN = Principal("tester", ALL_PROJECTS, Role.ADMIN)
PROXY = "/api/2.0/mlflow-artifacts"


@pytest.fixture
def run(platform: Platform) -> Run:
    with platform.db.session(write=True) as session:
        projects.ensure(session, platform.settings.project)
    return create_run(
        platform.db,
        ADMIN,
        platform.settings.project,
        "Default",
        artifact_root=platform.settings.resolved_artifact_root,
    )


def _key(run: Run) -> str:
    return store_key(run.artifact_uri)


def _url(run: Run, relative: str = "") -> str:
    return f"{PROXY}/artifacts/{_key(run)}" + (f"/{relative}" if relative else "")


def _on_disk(platform: Platform, run: Run, relative: str = "") -> Path:
    return Path(platform.settings.resolved_artifact_root, _key(run), relative)


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    message: str = body["message"]
    return message


def _recorded(platform: Platform, run: Run) -> list[str]:
    return [a.path for a in run_artifacts.list_artifacts(platform, ADMIN, run.id)]


# --- pure helpers ------------------------------------------------------------------------


def test_paths_parse_only_run_artifact_shapes() -> None:
    target = parse_path("p1/r1/artifacts/model/MLmodel")
    assert (target.project_id, target.run_id, target.relative) == ("p1", "r1", "model/MLmodel")
    assert parse_path("p1/r1/artifacts/").relative == ""
    for bad in ("p1", "p1/r1", "p1/r1/files/x"):
        with pytest.raises(Exception, match="artifacts/<path>"):
            parse_path(bad)


def test_content_types_follow_mlflow() -> None:
    assert mime_type("MLmodel") == "text/plain"
    assert mime_type("conda.yaml") == "text/plain"
    assert mime_type("metrics.json") == "text/plain"
    assert mime_type("plot.png") == "image/png"
    assert mime_type("page.html") == "text/html"
    assert mime_type("model.pkl") == "application/octet-stream"
    assert mime_type("weights") == "application/octet-stream"


def test_children_synthesise_folders() -> None:
    found = [Artifact(p, 3, None) for p in ("a.txt", "sub/b.txt", "sub/deep/c.bin")]
    assert children(found, "") == [
        {"path": "a.txt", "is_dir": False, "file_size": 3},
        {"path": "sub", "is_dir": True},
    ]
    assert children(found, "sub") == [
        {"path": "b.txt", "is_dir": False, "file_size": 3},
        {"path": "deep", "is_dir": True},
    ]
    assert children(found, "sub/b.txt") == []


# --- the proxy over HTTP ---------------------------------------------------------------


@pytest.mark.anyio
async def test_put_get_list_delete(client: httpx.AsyncClient, platform: Platform, run: Run) -> None:
    files = {"a.txt": b"alpha", "sub/b.json": b'{"b": 1}', "sub/deep/c.bin": b"\x00\x01"}
    for path, data in files.items():
        response = await client.put(_url(run, path), content=data)
        assert response.status_code == 200, response.text
        assert response.json() == {}
    # Recorded in the run's table, as Griffin's own uploads are.
    assert _recorded(platform, run) == sorted(files)

    got = await client.get(_url(run, "a.txt"))
    assert got.content == b"alpha"
    assert got.headers["content-type"].startswith("text/plain")
    assert got.headers["content-disposition"] == 'attachment; filename="a.txt"'
    assert got.headers["x-content-type-options"] == "nosniff"
    binary = await client.get(_url(run, "sub/deep/c.bin"))
    assert binary.content == b"\x00\x01"
    assert binary.headers["content-type"] == "application/octet-stream"

    listing = await client.get(f"{PROXY}/artifacts", params={"path": _key(run)})
    assert listing.json() == {
        "files": [
            {"path": "a.txt", "is_dir": False, "file_size": 5},
            {"path": "sub", "is_dir": True},
        ]
    }
    sub = await client.get(f"{PROXY}/artifacts", params={"path": f"{_key(run)}/sub"})
    assert [f["path"] for f in sub.json()["files"]] == ["b.json", "deep"]
    # A file has no children; a run's folder holds "artifacts"; the root is not browsable.
    leaf = await client.get(f"{PROXY}/artifacts", params={"path": f"{_key(run)}/a.txt"})
    assert leaf.json() == {"files": []}
    above = await client.get(f"{PROXY}/artifacts", params={"path": _key(run).rsplit("/", 1)[0]})
    assert above.json() == {"files": [{"path": "artifacts", "is_dir": True}]}
    assert (await client.get(f"{PROXY}/artifacts")).json() == {"files": []}

    tracked = await client.get(
        "/api/2.0/mlflow/artifacts/list", params={"run_id": run.id, "path": "sub"}
    )
    assert tracked.json() == {
        "root_uri": f"mlflow-artifacts:/{_key(run)}",
        "files": [
            {"path": "sub/b.json", "is_dir": False, "file_size": 8},
            {"path": "sub/deep", "is_dir": True},
        ],
    }

    assert (await client.delete(_url(run, "sub"))).status_code == 200
    assert _recorded(platform, run) == ["a.txt"]
    assert not _on_disk(platform, run, "sub").exists()
    # Deleting what is not there is a no-op, as in MLflow.
    assert (await client.delete(_url(run, "sub"))).status_code == 200
    assert (await client.delete(_url(run) + "/")).status_code == 200
    assert _recorded(platform, run) == []
    assert not _on_disk(platform, run, "a.txt").exists()


@pytest.mark.anyio
async def test_project_scoped_prefix_and_overwrite(client: httpx.AsyncClient, run: Run) -> None:
    url = f"/projects/default{_url(run, 'model/weights')}"
    assert (await client.put(url, content=b"one")).status_code == 200
    assert (await client.put(url, content=b"two")).status_code == 200
    assert (await client.get(url)).content == b"two"


@pytest.mark.anyio
async def test_unknown_shapes_runs_and_files(
    client: httpx.AsyncClient, platform: Platform, run: Run
) -> None:
    project_id, run_id, _ = _key(run).split("/")
    message = _error(
        await client.put(f"{PROXY}/artifacts/{project_id}/x.txt", content=b"x"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert "<project_id>/<run_id>/artifacts/<path>" in message
    _error(
        await client.put(f"{PROXY}/artifacts/{project_id}/nope/artifacts/x", content=b"x"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    # The right run under another project's id is reported missing, not found elsewhere.
    _error(
        await client.get(f"{PROXY}/artifacts/other/{run_id}/artifacts/x"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _error(await client.get(_url(run, "missing.txt")), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(
        await client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _error(await client.get("/api/2.0/mlflow/artifacts/list"), 400, "INVALID_PARAMETER_VALUE")
    assert _recorded(platform, run) == []


@pytest.mark.anyio
async def test_roles_are_checked(client: httpx.AsyncClient, platform: Platform, run: Run) -> None:
    _, viewer = accounts.create_token(
        platform.db, None, user="vic", project=platform.settings.project, role=Role.VIEWER
    )
    _, outsider = accounts.create_token(
        platform.db, None, user="eve", project="elsewhere", role=Role.EDITOR
    )
    assert (await client.put(_url(run, "a.txt"), content=b"a")).status_code == 200
    as_viewer = {"authorization": f"Bearer {viewer}"}
    assert (await client.get(_url(run, "a.txt"), headers=as_viewer)).content == b"a"
    _error(
        await client.put(_url(run, "b.txt"), content=b"b", headers=as_viewer),
        403,
        "PERMISSION_DENIED",
    )
    _error(await client.delete(_url(run, "a.txt"), headers=as_viewer), 403, "PERMISSION_DENIED")
    _error(
        await client.get(_url(run, "a.txt"), headers={"authorization": f"Bearer {outsider}"}),
        403,
        "PERMISSION_DENIED",
    )
    assert _recorded(platform, run) == ["a.txt"]


# --- path safety -----------------------------------------------------------------------

TRAVERSALS = [
    "%2e%2e/%2e%2e/%2e%2e/escaped.txt",
    "sub/%2e%2e/%2e%2e/%2e%2e/%2e%2e/escaped.txt",
    "%252e%252e/%252e%252e/escaped.txt",
    "%252e%252e%252fescaped.txt",
    "sub%5C..%5C..%5Cescaped.txt",
    "a%00b.txt",
    "%2Fetc%2Fescaped.txt",
    ".griffin-tmp-x",
]


@pytest.mark.anyio
async def test_traversal_is_refused(
    client: httpx.AsyncClient, platform: Platform, run: Run
) -> None:
    for bad in TRAVERSALS:
        url = _url(run, "") + "/" + bad
        for response in (
            await client.put(url, content=b"x"),
            await client.get(url),
            await client.delete(url),
        ):
            _error(response, 400, "INVALID_PARAMETER_VALUE")
    for url in (f"{PROXY}/artifacts//etc/passwd", f"{PROXY}/artifacts/%2Fetc%2Fpasswd"):
        _error(await client.get(url), 400, "INVALID_PARAMETER_VALUE")
        _error(await client.put(url, content=b"x"), 400, "INVALID_PARAMETER_VALUE")
        _error(await client.delete(url), 400, "INVALID_PARAMETER_VALUE")
    root = Path(platform.settings.resolved_artifact_root)
    assert not list(root.parent.rglob("escaped.txt"))
    assert not list(root.parent.rglob("passwd"))
    assert _recorded(platform, run) == []


@pytest.mark.anyio
async def test_listing_traversal_is_refused(client: httpx.AsyncClient, run: Run) -> None:
    for path in ("..", "../..", "/etc", "x/../../..", "%2e%2e", "%252e%252e", "a\\..", "a\x00b"):
        for response in (
            await client.get(f"{PROXY}/artifacts", params={"path": path}),
            await client.get(f"{PROXY}/artifacts", params={"path": f"{_key(run)}/{path}"}),
            await client.get(
                "/api/2.0/mlflow/artifacts/list", params={"run_id": run.id, "path": path}
            ),
        ):
            _error(response, 400, "INVALID_PARAMETER_VALUE")


def _raw_request(live_url: str, method: str, path: str, body: bytes | None = None) -> int:
    """Send ``path`` byte for byte: HTTP libraries would resolve the ``..`` segments first."""
    parts = urlsplit(live_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
    try:
        connection.request(method, path, body=body)
        return connection.getresponse().status
    finally:
        connection.close()


def test_literal_dot_segments_are_refused(
    live_url: str, platform: Platform, run: Run, tmp_path: Path
) -> None:
    base = _url(run)
    for path in (f"{base}/../../../escaped.txt", f"{base}/sub/../../../../../escaped.txt"):
        assert _raw_request(live_url, "PUT", path, b"x") == 400
        assert _raw_request(live_url, "GET", path) == 400
        assert _raw_request(live_url, "DELETE", path) == 400
    assert not list(tmp_path.rglob("escaped.txt"))


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the artifact root with a secret in it."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(b"TOP SECRET")
    return folder


@pytest.mark.anyio
async def test_file_symlink_out_of_the_root_is_not_followed(
    client: httpx.AsyncClient, platform: Platform, run: Run, outside: Path
) -> None:
    assert (await client.put(_url(run, "a.txt"), content=b"alpha")).status_code == 200
    # Someone with shell access swaps the artifact for a link to a file outside the root.
    planted = _on_disk(platform, run, "a.txt")
    planted.unlink()
    planted.symlink_to(outside / "secret.txt")
    got = await client.get(_url(run, "a.txt"))
    assert b"SECRET" not in got.content
    _error(got, 400, "INVALID_PARAMETER_VALUE")
    # Writing through it does not write outside either.
    _error(
        await client.put(_url(run, "a.txt"), content=b"overwrite"), 400, "INVALID_PARAMETER_VALUE"
    )
    await client.delete(_url(run, "a.txt"))
    assert (outside / "secret.txt").read_bytes() == b"TOP SECRET"


@pytest.mark.anyio
async def test_folder_symlink_out_of_the_root_is_not_followed(
    client: httpx.AsyncClient, platform: Platform, run: Run, outside: Path
) -> None:
    assert (await client.put(_url(run, "keep.txt"), content=b"k")).status_code == 200
    _on_disk(platform, run, "linked").symlink_to(outside, target_is_directory=True)
    # Even with a (forged) row for it, the secret is not served or listed with its bytes.
    with platform.db.session(write=True) as session:
        run_rows.add_artifact(session, run.id, Artifact("linked/secret.txt", 10, None))
    got = await client.get(_url(run, "linked/secret.txt"))
    assert b"SECRET" not in got.content
    _error(got, 400, "INVALID_PARAMETER_VALUE")
    _error(
        await client.put(_url(run, "linked/new.txt"), content=b"x"), 400, "INVALID_PARAMETER_VALUE"
    )
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    # Listings come from the run's records, never from walking the disk through the link.
    (outside / "unrecorded.txt").write_bytes(b"x")
    listing = await client.get(f"{PROXY}/artifacts", params={"path": f"{_key(run)}/linked"})
    assert listing.json() == {"files": [{"path": "secret.txt", "is_dir": False, "file_size": 10}]}
    await client.delete(_url(run, "linked"))
    assert (outside / "secret.txt").read_bytes() == b"TOP SECRET"


# --- multipart uploads over HTTP ---------------------------------------------------------


async def _create_upload(
    client: httpx.AsyncClient, run: Run, num_parts: int, folder: str = "big"
) -> dict[str, Any]:
    response = await client.post(
        f"{PROXY}/mpu/create/{_key(run)}/{folder}",
        json={"path": "/home/me/data/model.bin", "num_parts": num_parts},
    )
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.mark.anyio
async def test_multipart_over_http(client: httpx.AsyncClient, platform: Platform, run: Run) -> None:
    created = await _create_upload(client, run, 3)
    credentials = created["credentials"]
    assert [c["part_number"] for c in credentials] == [1, 2, 3]
    assert credentials[0]["url"].startswith(f"http://test{PROXY}/mpu/part/")
    chunks = [b"a" * 1000, b"b" * 1000, b"c" * 10]
    parts = []
    for credential, chunk in zip(credentials, chunks, strict=True):
        response = await client.put(credential["url"], content=chunk)
        assert response.status_code == 200, response.text
        parts.append({"part_number": credential["part_number"], "etag": response.headers["etag"]})
    # Parts are staged beside the run's artifacts, never as artifacts.
    assert _recorded(platform, run) == []
    body = {"path": "model.bin", "upload_id": created["upload_id"], "parts": parts}
    response = await client.post(f"{PROXY}/mpu/complete/{_key(run)}/big", json=body)
    assert response.status_code == 200, response.text
    assert (await client.get(_url(run, "big/model.bin"))).content == b"".join(chunks)
    assert _recorded(platform, run) == ["big/model.bin"]
    assert not list(Path(platform.settings.resolved_artifact_root).rglob("part-*"))
    # A completed upload is gone: its parts cannot be sent again.
    _error(await client.put(credentials[0]["url"], content=b"x"), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.anyio
async def test_multipart_refusals_and_abort(
    client: httpx.AsyncClient, platform: Platform, run: Run
) -> None:
    created = await _create_upload(client, run, 2)
    upload_id = created["upload_id"]
    first, second = (c["url"] for c in created["credentials"])
    _error(
        await client.put(first.rsplit("/", 1)[0] + "/3", content=b"x"),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        await client.put(first.replace(upload_id, "0-" + "0" * 32), content=b"x"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    _error(
        await client.put(first.replace(upload_id, "%2e%2e"), content=b"x"),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    one = await client.put(first, content=b"one")
    complete = f"{PROXY}/mpu/complete/{_key(run)}/big"
    missing = {
        "path": "model.bin",
        "upload_id": upload_id,
        "parts": [{"part_number": 1, "etag": one.headers["etag"]}, {"part_number": 2}],
    }
    _error(await client.post(complete, json=missing), 400, "INVALID_PARAMETER_VALUE")
    await client.put(second, content=b"two")
    wrong_etag = {**missing, "parts": [{"part_number": 1, "etag": '"0"'}, {"part_number": 2}]}
    message = _error(await client.post(complete, json=wrong_etag), 400, "INVALID_PARAMETER_VALUE")
    assert "ETag" in message
    wrong_name = {**missing, "path": "other.bin"}
    _error(await client.post(complete, json=wrong_name), 400, "INVALID_PARAMETER_VALUE")
    too_many = {**missing, "parts": [{"part_number": n} for n in (1, 2, 3)]}
    _error(await client.post(complete, json=too_many), 400, "INVALID_PARAMETER_VALUE")
    assert _recorded(platform, run) == []
    abort = await client.post(
        f"{PROXY}/mpu/abort/{_key(run)}/big", json={"path": "model.bin", "upload_id": upload_id}
    )
    assert abort.status_code == 200, abort.text
    assert not list(Path(platform.settings.resolved_artifact_root).rglob("part-*"))
    _error(await client.put(first, content=b"x"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(
        await client.post(
            f"{PROXY}/mpu/create/{_key(run)}", json={"path": "x", "num_parts": 10_001}
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        await client.post(f"{PROXY}/mpu/create/{_key(run)}", json={"path": "..", "num_parts": 1}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


@pytest.mark.anyio
async def test_size_limit_covers_single_and_multipart_uploads(platform: Platform, run: Run) -> None:
    from griffin.server import create_app

    small = Platform(
        settings=platform.settings.model_copy(update={"max_artifact_bytes": 1000}),
        db=platform.db,
        artifacts=platform.artifacts,
    )
    transport = httpx.ASGITransport(app=create_app(platform=small))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        _error(
            await client.put(_url(run, "big.bin"), content=b"x" * 1001),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        created = await _create_upload(client, run, 2)
        first, second = (c["url"] for c in created["credentials"])
        assert (await client.put(first, content=b"x" * 600)).status_code == 200
        # The parts together may not pass the limit either.
        message = _error(
            await client.put(second, content=b"x" * 600), 400, "INVALID_PARAMETER_VALUE"
        )
        assert "'big/model.bin' is larger than the limit of 1000 bytes" in message
    assert _recorded(platform, run) == []
    assert not _on_disk(platform, run, "big.bin").exists()


def test_dropped_upload_leaves_nothing(live_url: str, platform: Platform, run: Run) -> None:
    root = Path(platform.settings.resolved_artifact_root)

    def staged() -> list[str]:
        # os.walk, unlike rglob, shrugs off folders the server removes while we look.
        return [n for _, _, names in os.walk(root) for n in names if n.startswith(".griffin-tmp")]

    parts = urlsplit(live_url)
    with socket.create_connection((parts.hostname or "", parts.port or 80)) as sock:
        head = f"PUT {_url(run, 'cut.bin')} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
        sock.sendall(head.encode() + b"x" * 100_000)
        # Hang up only once the server is writing the body to its staging file.
        deadline = time.monotonic() + 10
        while not staged() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert staged()
    deadline = time.monotonic() + 10
    while staged() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not staged()
    assert not list(root.rglob("cut.bin"))
    assert _recorded(platform, run) == []


# --- the real MLflow client --------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_client_logs_lists_downloads_and_deletes(
    mlflow_client: Any, platform: Platform, tmp_path: Path
) -> None:
    mlflow = pytest.importorskip("mlflow")
    run_id = mlflow_client.create_run(experiment_id="0").info.run_id
    single = tmp_path / "notes.txt"
    single.write_text("hello")
    mlflow_client.log_artifact(run_id, str(single))
    folder = tmp_path / "model"
    (folder / "data" / "deep").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "data" / "weights.bin").write_bytes(os.urandom(3000))
    (folder / "data" / "deep" / "x.json").write_text("{}")
    mlflow_client.log_artifacts(run_id, str(folder), artifact_path="model")

    top = mlflow_client.list_artifacts(run_id)
    assert [(f.path, f.is_dir, f.file_size) for f in top] == [
        ("model", True, None),
        ("notes.txt", False, 5),
    ]
    # MlflowClient.list_artifacts(run_id, path) also asks logged-models/search for a model
    # named after the path's first folder; the run's own files come from the artifact proxy.
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repo: Any = get_artifact_repository(mlflow_client.get_run(run_id).info.artifact_uri)
    assert [f.path for f in repo.list_artifacts("model/data")] == [
        "model/data/deep",
        "model/data/weights.bin",
    ]
    # Griffin's own view of the run has them too.
    recorded = [a.path for a in run_artifacts.list_artifacts(platform, ADMIN, run_id)]
    assert recorded == [
        "model/MLmodel",
        "model/data/deep/x.json",
        "model/data/weights.bin",
        "notes.txt",
    ]

    dst = tmp_path / "dst"
    dst.mkdir()
    got = mlflow_client.download_artifacts(run_id, "model", str(dst))
    assert _tree(Path(got)) == _tree(folder)
    one = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes.txt")
    assert Path(one).read_text() == "hello"

    repo.delete_artifacts("model/data")
    assert [f.path for f in repo.list_artifacts("model")] == ["model/MLmodel"]


def test_client_multipart_upload_with_a_token(
    live_url: str, platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts go to URLs on Griffin, carrying the token the client authenticated with."""
    mlflow = pytest.importorskip("mlflow")
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    project = platform.settings.project
    _, token = accounts.create_token(
        platform.db, None, user="ed", project=project, role=Role.EDITOR
    )
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(1 << 20))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(1 << 20))
    sent: list[str] = []
    upload_part = HttpArtifactRepository._upload_part

    def spy(credential: Any, local_file: str, size: int, start_byte: int) -> Any:
        sent.append(credential.url)
        return upload_part(credential, local_file, size, start_byte)

    monkeypatch.setattr(HttpArtifactRepository, "_upload_part", staticmethod(spy))
    client = mlflow.MlflowClient(tracking_uri=f"{live_url}/projects/{project}")
    run_id = client.create_run(experiment_id="0").info.run_id
    data = os.urandom(3 * (1 << 20) + 123)
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    client.log_artifact(run_id, str(big), artifact_path="blobs")

    assert len(sent) == 4
    assert all(f"/projects/{project}/api/2.0/mlflow-artifacts/mpu/part/" in u for u in sent)
    got = client.download_artifacts(run_id, "blobs/big.bin", str(tmp_path / "dst"))
    assert Path(got).read_bytes() == data
    assert not list(Path(platform.settings.resolved_artifact_root).rglob("part-*"))


# --- streaming: a large file never sits in memory ------------------------------------------

LARGE = 200 * 1024**2


def _write_large(path: Path) -> str:
    sha = hashlib.sha256()
    block = os.urandom(1 << 20)
    with path.open("wb") as handle:
        for i in range(LARGE >> 20):
            chunk = i.to_bytes(8, "big") + block[8:]
            sha.update(chunk)
            handle.write(chunk)
    return sha.hexdigest()


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_large_artifact_streams_both_ways(
    mlflow_client: Any, tmp_path: Path, platform: Platform
) -> None:
    """200 MB up and down through the real client and server, in one process.

    tracemalloc sees every Python allocation of the server thread and of the client, so a
    handler that read the body (or built the response) whole would push the traced peak
    past the file's size; streaming keeps it to a few chunks.
    """
    run_id = mlflow_client.create_run(experiment_id="0").info.run_id
    source = tmp_path / "large.bin"
    digest = _write_large(source)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        mlflow_client.log_artifact(run_id, str(source))
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        got = Path(mlflow_client.download_artifacts(run_id, "large.bin", str(tmp_path / "d")))
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _sha256(got) == digest
    assert upload_peak < LARGE / 8, upload_peak
    assert download_peak < LARGE / 8, download_peak
    # The process-wide high-water mark (KiB on Linux) agrees: far less than the file grew it.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < LARGE / 1024 / 2
    key = store_key(mlflow_client.get_run(run_id).info.artifact_uri)
    stored = Path(platform.settings.resolved_artifact_root, key, "large.bin")
    assert stored.stat().st_size == LARGE
    for path in (source, got, stored):  # 600 MB pytest would otherwise keep for three sessions
        path.unlink()
