"""The ray launcher: status mapping and an unreachable cluster without Ray running; then real
jobs on one local Ray head (token authentication on, everything bound to 127.0.0.1) through
the dispatcher: a training job end to end, a cancel, a distributed run on two workers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from griffin import plugins
from griffin.config import Settings, load_settings
from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.domain.ids import new_id
from griffin.domain.jobs import JobStatus
from griffin.errors import BackendUnavailable, ConfigError
from griffin.launcher import LaunchRequest, open_launcher
from griffin.platform import Platform, open_platform
from griffin.training import jobs
from griffin.training.dispatcher import Dispatcher

ray_jobs = pytest.importorskip("ray.job_submission", reason="ray is not installed")

from griffin.launcher.ray import RayLauncher, submission_id  # noqa: E402

ADMIN = Principal("ana", ALL_PROJECTS, Role.ADMIN)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- without a Ray cluster ------------------------------------------------------------------


def test_ray_is_a_registered_launcher() -> None:
    assert plugins.resolve("launcher", "ray") is RayLauncher
    assert plugins.KINDS["launcher"].extras["ray"] == "griffin-ml[ray]"


@pytest.fixture
def ray_platform(settings: Settings) -> Iterator[Platform]:
    # Nothing listens on this port: connections are refused at once.
    opened = open_platform(
        settings.model_copy(
            update={
                "ray_address": f"http://127.0.0.1:{_free_port()}",
                "job_poll_interval_s": 0.05,
                "job_retry_backoff_s": 0.0,
            }
        )
    )
    yield opened
    opened.close()


def test_an_unreachable_cluster_fails_the_job_instead_of_leaving_it_queued(
    ray_platform: Platform,
) -> None:
    job_id = jobs.submit_job(
        ray_platform.db, ADMIN, "default", {"model": "m", "backend": "ray", "retries": 1}
    ).id
    started = time.monotonic()
    job = Dispatcher(ray_platform, backends=("ray",)).run_until_done(job_id, timeout=30)
    assert time.monotonic() - started < 20
    assert job.status is JobStatus.FAILED
    assert job.attempt == 2  # BACKEND_UNAVAILABLE is an infrastructure failure: retried once
    assert "is unreachable while submitting job" in job.status_reason
    assert job.status_reason.endswith("(after 2 attempts)")


def test_submit_raises_backend_unavailable_with_a_short_connect_timeout(tmp_path: Path) -> None:
    settings = load_settings(
        environ={}, home=str(tmp_path), ray_address=f"127.0.0.1:{_free_port()}"
    )
    launcher = RayLauncher(settings, connect_timeout_s=0.5)
    request = LaunchRequest(
        job_id="j1",
        project="default",
        attempt=1,
        argv=[sys.executable, "-m", "griffin.runtime", "--job", "j1"],
        env={},
        working_dir=tmp_path / "work",
    )
    with pytest.raises(BackendUnavailable, match="unreachable"):
        launcher.submit(request)
    with pytest.raises(BackendUnavailable):
        launcher.status({"address": _address_of(settings), "submission_id": "x"})


def _address_of(settings: Settings) -> str:
    from griffin.launcher.ray import _address

    return _address(settings)


def test_the_address_comes_from_the_setting_or_rays_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RAY_API_SERVER_ADDRESS", "RAY_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    empty = load_settings(environ={}, home=str(tmp_path))
    with pytest.raises(ConfigError, match="no cluster address"):
        RayLauncher(empty).recover("j", 1)
    monkeypatch.setenv("RAY_ADDRESS", "10.1.2.3:8265")
    assert _address_of(empty) == "http://10.1.2.3:8265"
    monkeypatch.setenv("RAY_API_SERVER_ADDRESS", "https://ray.example:443/")
    assert _address_of(empty) == "https://ray.example:443"
    given = load_settings(environ={}, home=str(tmp_path), ray_address="http://h:8265")
    assert _address_of(given) == "http://h:8265"
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    monkeypatch.delenv("RAY_API_SERVER_ADDRESS")
    with pytest.raises(ConfigError, match="Jobs API"):
        _address_of(empty)


def test_only_griffin_settings_reach_the_ray_job(tmp_path: Path) -> None:
    env = {
        "GRIFFIN_DATABASE_URL": "sqlite:///x.db",
        "GRIFFIN_ARTIFACT_ROOT": "/srv/artifacts",
        "HOME": "/root",
        "AWS_SECRET_ACCESS_KEY": "s",
        "SSH_AUTH_SOCK": "/tmp/agent",
    }
    request = LaunchRequest("j", "p", 1, ["python"], env, tmp_path)
    assert RayLauncher._environment(request) == {
        "GRIFFIN_DATABASE_URL": "sqlite:///x.db",
        "GRIFFIN_ARTIFACT_ROOT": "/srv/artifacts",
    }
    on_s3 = LaunchRequest(
        "j", "p", 1, ["python"], {**env, "GRIFFIN_ARTIFACT_ROOT": "s3://b"}, tmp_path
    )
    assert RayLauncher._environment(on_s3)["AWS_SECRET_ACCESS_KEY"] == "s"
    assert RayLauncher._entrypoint([sys.executable, "-m", "griffin.runtime", "--job", "a b"]) == (
        "python -m griffin.runtime --job 'a b'"
    )


class _FakeClient:
    def __init__(self, **info: Any) -> None:
        self.info = SimpleNamespace(**info)

    def get_job_info(self, sid: str) -> Any:
        return self.info


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"status": "PENDING"}, ("running", None)),
        ({"status": "RUNNING"}, ("running", None)),
        ({"status": "SUCCEEDED"}, ("succeeded", 0)),
        ({"status": "STOPPED"}, ("failed", 143)),
        (
            {
                "status": "FAILED",
                "error_type": "JOB_ENTRYPOINT_COMMAND_ERROR",
                "message": "x",
                "driver_exit_code": 1,
            },
            ("failed", 1),
        ),
        (
            {"status": "FAILED", "error_type": None, "message": "x", "driver_exit_code": -9},
            ("failed", 137),
        ),
        (
            {"status": "FAILED", "error_type": "RUNTIME_ENV_SETUP_FAILURE", "message": "pip"},
            ("lost", None),
        ),
        (
            {"status": "FAILED", "error_type": "JOB_SUPERVISOR_ACTOR_DIED", "message": "node"},
            ("lost", None),
        ),
    ],
)
def test_ray_job_status_maps_to_launch_status(
    tmp_path: Path, info: dict[str, Any], expected: tuple[str, int | None]
) -> None:
    launcher = RayLauncher(load_settings(environ={}, home=str(tmp_path)))
    launcher._clients["http://h:1"] = _FakeClient(**info)  # type: ignore[assignment]
    found = launcher.status({"address": "http://h:1", "submission_id": "s"})
    assert (found.state, found.exit_code) == expected
    if found.state == "lost":
        assert info["error_type"] in found.message


# -- on a local Ray head --------------------------------------------------------------------


@dataclass
class Head:
    address: str
    token: str


def _session_processes(sid: int) -> list[int]:
    """Pids of the processes in session ``sid`` (the head's: we started it as its leader)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def _signal_all(sid: int, signum: int) -> None:
    for pid in _session_processes(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[Head]:
    """One Ray head for this module: loopback only, token authentication on, 3 logical CPUs.

    Only one test uses it (its scenarios in turn), so under xdist too it is one head.

    ``ray start --block`` runs as the leader of a new session; stopping it (SIGTERM) stops
    the processes it started, and whatever of its session is left is killed, nothing else.
    """
    temp = Path(tempfile.mkdtemp(prefix="gr-ray-", dir="/tmp"))
    token = secrets.token_hex(16)
    dashboard = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "GRIFFIN_"))}
    env.update(
        {
            # The cluster's `python` is this environment's (the job runs `python -m ...`).
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            # Ray otherwise swaps 127.0.0.1 for the machine's address and binds its servers
            # there; this keeps the node (GCS, raylet, agents) on the loopback interface.
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": token,
            "RAY_USAGE_STATS_ENABLED": "0",
        }
    )
    command = [
        str(Path(sys.executable).with_name("ray")),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={_free_port()}",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--ray-client-server-port={_free_port()}",
        "--include-dashboard=true",
        "--num-cpus=3",
        f"--temp-dir={temp}",
        "--disable-usage-stats",
    ]
    log = (temp / "ray-start.log").open("wb")
    head = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    address = f"http://127.0.0.1:{dashboard}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert head.poll() is None, (temp / "ray-start.log").read_text()[-3000:]
            try:
                answer = httpx.get(
                    f"{address}/api/jobs/",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=2,
                )
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the Ray head did not start in 90 s"
            time.sleep(0.25)
        yield Head(address=address, token=token)
    finally:
        # SIGTERM to every process of the head's session at once (what `ray stop` does, but
        # only to this head's processes), SIGKILL to what is left after a few seconds.
        _signal_all(head.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            head.wait(5)
        _signal_all(head.pid, signal.SIGKILL)
        if head.poll() is None:
            head.wait(10)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


MODEL_WRAPPER = """def train(ctx):
    import time

    time.sleep(float(ctx.params.get("sleep", 0) or 0))
    ctx.log_metric("world_size", ctx.world_size)
    ctx.log_metric("rows", len(ctx.frame))
    return _train(ctx)
"""


@dataclass
class RayProject:
    settings: Settings
    platform: Platform
    client: Any
    model: str


@pytest.fixture(scope="module")
def ray_project(
    ray_head: Head, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[RayProject]:
    """A sklearn project (its train sleeps ``params.sleep`` s first) applied to a fresh
    embedded store whose dispatcher submits to the Ray head."""
    import griffin
    from griffin.features.project import load_definitions
    from griffin.project_templates import create_project

    root = tmp_path_factory.mktemp("ray-project")
    shutil.copy(sqlite_template, root / "griffin.db")
    settings = load_settings(
        environ={},
        cwd=root,
        home=str(root / "home"),
        database_url=f"sqlite:///{root / 'griffin.db'}",
        artifact_root=str(root / "artifacts"),
        job_poll_interval_s=0.2,
        job_retry_backoff_s=0.0,
        job_cancel_grace_s=2.0,
        ray_address=ray_head.address,
        ray_token=ray_head.token,
    )
    project = create_project("shop", "sklearn", root / "shop")
    model_py = project / "model.py"
    head, _, rest = model_py.read_text().partition("@griffin.model(")
    arguments, _, body = rest.partition("def train(ctx):")
    arguments = arguments.replace('"seed": 0}', '"seed": 0, "sleep": 0.0}')
    assert '"sleep": 0.0' in arguments
    model_py.write_text(
        f"{head}def _train(ctx):{body}\n\n@griffin.model({arguments}{MODEL_WRAPPER}"
    )
    client = griffin.Client(settings=settings)
    with contextlib.chdir(project):  # the features' sources are relative to the project
        client.apply_features(load_definitions(project / "features.py"))
        client.apply_models(project)
    platform = open_platform(settings)
    try:
        yield RayProject(settings, platform, client, "shop")
    finally:
        client.close()
        platform.close()


def _events(project: RayProject, job_id: str) -> list[JobStatus]:
    return [e.to_status for e in jobs.job_events(project.platform.db, ADMIN, "default", job_id)]


def _log(project: RayProject, job_id: str) -> str:
    found = jobs.job_logs(project.platform.db, project.platform.artifacts, ADMIN, "default", job_id)
    return found.data.decode()


def _a_training_job_runs_on_ray_and_registers_a_version(ray_project: RayProject) -> None:
    job = ray_project.client.submit_job(model=ray_project.model, backend="ray")
    dispatcher = Dispatcher(ray_project.platform, backends=("ray",))
    done = dispatcher.run_until_done(job.id, timeout=120)
    log = _log(ray_project, job.id)
    assert done.status is JobStatus.SUCCEEDED, f"{done.status_reason}\n{log}"
    assert done.result is not None
    assert done.result["model"] == "shop"
    assert done.handle == {
        "address": ray_project.settings.ray_address,
        "submission_id": submission_id(job.id, 1),
    }
    assert _events(ray_project, job.id) == [
        JobStatus.QUEUED,
        JobStatus.STARTING,
        JobStatus.RUNNING,
        JobStatus.SUCCEEDED,
    ]
    version = ray_project.client.get_model_version("shop", done.result["version"])
    assert version.metrics["world_size"] == 1
    assert version.metrics["auc"] > 0.5
    assert f"griffin: registered shop version {done.result['version']}" in log
    # The Ray job is found again from the job and attempt alone (a dispatcher that died
    # before recording the handle); an attempt never submitted is not.
    launcher = open_launcher("ray", ray_project.settings)
    assert launcher.recover(job.id, 1) == done.handle
    assert launcher.recover(job.id, 2) is None


def _a_wrong_token_is_refused_as_a_config_error(ray_project: RayProject, tmp_path: Path) -> None:
    settings = ray_project.settings.model_copy(update={"ray_token": SecretStr("wrong")})
    request = LaunchRequest(new_id(), "default", 1, ["python", "-c", "pass"], {}, tmp_path / "w")
    with pytest.raises(ConfigError, match="refused the token"):
        RayLauncher(settings).submit(request)


def _cancelling_a_running_ray_job(ray_project: RayProject) -> None:
    job = ray_project.client.submit_job(
        model=ray_project.model, backend="ray", params={"sleep": 120}
    )
    dispatcher = Dispatcher(ray_project.platform, backends=("ray",))
    ended: list[Any] = []
    runner = threading.Thread(
        target=lambda: ended.append(dispatcher.run_until_done(job.id, timeout=90))
    )
    runner.start()
    deadline = time.monotonic() + 60
    while ray_project.client.get_job(job.id).status != JobStatus.RUNNING:
        assert time.monotonic() < deadline, "the job did not start running"
        time.sleep(0.2)
    ray_project.client.cancel_job(job.id)
    runner.join(60)
    assert ended, "the dispatcher did not finish"
    assert ended[0].status is JobStatus.CANCELLED, ended[0].status_reason
    launcher = open_launcher("ray", ray_project.settings)
    assert launcher.status(ended[0].handle).state == "failed"  # STOPPED in Ray


def _a_distributed_job_trains_on_two_ray_train_workers(ray_project: RayProject) -> None:
    job = ray_project.client.submit_job(
        model=ray_project.model, backend="ray", resources={"cpus": 1, "workers": 2}
    )
    done = Dispatcher(ray_project.platform, backends=("ray",)).run_until_done(job.id, timeout=180)
    log = _log(ray_project, job.id)
    assert done.status is JobStatus.SUCCEEDED, f"{done.status_reason}\n{log}"
    assert "training on 2 Ray Train workers (DataParallelTrainer)" in log
    assert done.result is not None
    version = ray_project.client.get_model_version("shop", done.result["version"])
    assert version.metrics["world_size"] == 2  # rank 0's metrics, logged from its worker
    whole = [
        v.metrics["rows"]
        for v in ray_project.client.list_model_versions("shop")
        if v.metrics.get("world_size") == 1
    ]
    if whole:  # rank 0 trained on its shard: half the rows
        assert version.metrics["rows"] == pytest.approx(whole[0] / 2, abs=1)


@pytest.mark.ray
def test_jobs_on_a_local_ray_head(ray_project: RayProject, tmp_path: Path) -> None:
    """The scenarios share one test, hence one Ray head: xdist's ``--dist loadgroup`` does
    not group tests under pytest 9.2 (pytest-xdist 3.8 sets a node id pytest no longer
    reads), so separate tests could start a head in each worker."""
    _a_training_job_runs_on_ray_and_registers_a_version(ray_project)
    _a_wrong_token_is_refused_as_a_config_error(ray_project, tmp_path)
    _cancelling_a_running_ray_job(ray_project)
    _a_distributed_job_trains_on_two_ray_train_workers(ray_project)
