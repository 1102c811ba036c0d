"""The ``ray`` launcher: each job attempt is a Ray job, submitted through the Ray Jobs API.

The dispatcher talks to the cluster's job server (the dashboard, setting ``ray_address``) with
:class:`ray.job_submission.JobSubmissionClient`. An attempt becomes the Ray job
``griffin-<job id>-<attempt>``: its entrypoint is the job's command (run by the cluster's
``python``), its runtime environment carries the ``GRIFFIN_*`` variables that reach the
metadata store (and the S3 credentials when the artifact root is on S3, nothing else of the
dispatcher's environment), and its working folder is the job's (small: the job downloads its
code package itself). The submission id is derived from the job and attempt, so a dispatcher
that died between submitting and recording the handle finds the Ray job again
(:meth:`RayLauncher.recover`), and a second submission of the same attempt never runs twice.

Token authentication: the ``ray_token`` setting (else ``$RAY_AUTH_TOKEN``) is sent as
``Authorization: Bearer <token>``; without either, Ray's own client adds the token it finds
(``RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``) when ``RAY_AUTH_MODE=token``.

Requires ``griffin-ml[ray]``; this module is imported only when a job uses ``backend="ray"``.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import requests
from ray.exceptions import AuthenticationError
from ray.job_submission import JobStatus, JobSubmissionClient

from griffin.errors import BackendUnavailable, ConfigError, GriffinError, InvalidArgument
from griffin.launcher.base import Handle, Launcher, LaunchRequest, LaunchStatus

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = ["RayLauncher", "submission_id"]

MAX_LOG_READ = 1024 * 1024
# What of the dispatcher's environment a Ray job gets besides GRIFFIN_*: the S3 credentials,
# and only when Griffin's stores are on S3 (the job must read and write them).
_S3_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
# Ray job failures that are not the job's own: the dispatcher retries them ("lost").
_INFRASTRUCTURE_ERRORS = {
    "RUNTIME_ENV_SETUP_FAILURE",
    "JOB_SUPERVISOR_ACTOR_START_TIMEOUT",
    "JOB_SUPERVISOR_ACTOR_START_FAILURE",
    "JOB_SUPERVISOR_ACTOR_UNSCHEDULABLE",
    "JOB_SUPERVISOR_ACTOR_UNKNOWN_FAILURE",
    "JOB_SUPERVISOR_ACTOR_DIED",
}


def submission_id(job_id: str, attempt: int) -> str:
    """The Ray submission id of an attempt: derived, so it can be found again."""
    return f"griffin-{job_id}-{attempt}"


def _address(settings: Settings) -> str:
    address = (
        settings.ray_address
        or os.environ.get("RAY_API_SERVER_ADDRESS", "")
        or os.environ.get("RAY_ADDRESS", "")
    ).strip()
    if address.startswith("ray://") or address == "auto":
        raise ConfigError(
            f"ray_address {address!r} is a Ray Client or GCS address; the ray launcher needs "
            "the Jobs API (dashboard) address, e.g. http://head-node:8265"
        )
    if address and "://" not in address:
        address = f"http://{address}"
    return address.rstrip("/")


def _token(settings: Settings) -> str:
    if settings.ray_token is not None and settings.ray_token.get_secret_value():
        return settings.ray_token.get_secret_value()
    return os.environ.get("RAY_AUTH_TOKEN", "")


class _Client(JobSubmissionClient):
    """Ray's client with a time limit on every request (Ray's own has none)."""

    def __init__(self, address: str, token: str, timeout: tuple[float, float]) -> None:
        self._timeout = timeout  # before Ray's __init__, which already asks the server
        headers = {"Authorization": f"Bearer {token}"} if token else None
        super().__init__(address, headers=headers)

    def _do_request(self, method: str, endpoint: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super()._do_request(method, endpoint, **kwargs)


def _ended(code: int) -> LaunchStatus:
    if code < 0:  # killed by a signal (Popen's convention)
        code = 128 - code
    if code == 0:
        return LaunchStatus("succeeded", 0, "the Ray job's process exited with code 0")
    if code > 128:
        try:
            name = signal.Signals(code - 128).name
        except ValueError:
            name = f"signal {code - 128}"
        return LaunchStatus("failed", code, f"the Ray job's process was killed by {name}")
    return LaunchStatus("failed", code, f"the Ray job's process exited with code {code}")


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:300] if lines else ""


class RayLauncher(Launcher):
    """Runs job attempts as Ray jobs (see the module's description).

    Args:
        settings: Griffin's settings (``ray_address``, ``ray_token``).
        connect_timeout_s: how long to wait for the job server to accept a connection.
        read_timeout_s: how long to wait for one of its answers.
    """

    def __init__(
        self, settings: Settings, *, connect_timeout_s: float = 5.0, read_timeout_s: float = 60.0
    ) -> None:
        super().__init__(settings)
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.grace_s = settings.job_cancel_grace_s
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    # -- helpers ----------------------------------------------------------------------------

    def _client(self, address: str) -> _Client:
        if not address:
            raise ConfigError(
                "the ray launcher has no cluster address: set ray_address "
                "(GRIFFIN_RAY_ADDRESS=http://head-node:8265) or RAY_API_SERVER_ADDRESS"
            )
        with self._lock:
            client = self._clients.get(address)
            if client is None:
                client = _Client(address, _token(self.settings), self.timeout)
                self._clients[address] = client
            return client

    @contextmanager
    def _errors(self, address: str, doing: str) -> Iterator[None]:
        """Ray's and requests' exceptions as Griffin's: unreachable -> BackendUnavailable."""
        try:
            yield
        except GriffinError:
            raise
        except AuthenticationError as exc:
            raise ConfigError(
                f"the Ray cluster at {address} refused the token while {doing}: set ray_token "
                f"(GRIFFIN_RAY_TOKEN) or RAY_AUTH_TOKEN to the cluster's token "
                f"({_first_line(str(exc))})"
            ) from None
        except (requests.RequestException, ConnectionError) as exc:
            raise BackendUnavailable(
                f"the Ray cluster at {address} is unreachable while {doing}: "
                f"{type(exc).__name__}: {_first_line(str(exc))}",
                details={"address": address},
            ) from None
        except RuntimeError as exc:
            # The job server answered with an error status (or the client could not parse
            # its answer): a refused request is the job's; anything else may pass.
            text = _first_line(str(exc))
            if "status code 4" in text:
                raise InvalidArgument(
                    f"the Ray job server at {address} refused {doing}: {text}",
                    details={"address": address},
                ) from None
            raise BackendUnavailable(
                f"the Ray job server at {address} failed while {doing}: {text}",
                details={"address": address},
            ) from None

    @staticmethod
    def _environment(request: LaunchRequest) -> dict[str, str]:
        env = {k: v for k, v in request.env.items() if k.startswith("GRIFFIN_")}
        stores = (
            request.env.get("GRIFFIN_ARTIFACT_ROOT", ""),
            request.env.get("GRIFFIN_OFFLINE_ROOT", ""),
        )
        if any(store.startswith(("s3://", "s3a://")) for store in stores):
            env.update({k: request.env[k] for k in _S3_VARIABLES if k in request.env})
        return env

    @staticmethod
    def _entrypoint(argv: list[str]) -> str:
        # The dispatcher's interpreter path means nothing on the cluster's nodes: the job runs
        # the cluster's `python`, which must have the same griffin-ml installed.
        if argv and argv[0] == sys.executable:
            argv = ["python", *argv[1:]]
        return shlex.join(argv)

    @staticmethod
    def _handle(address: str, sid: str) -> Handle:
        return {"address": address, "submission_id": sid}

    # -- the protocol -----------------------------------------------------------------------

    def submit(self, request: LaunchRequest) -> Handle:
        address = _address(self.settings)
        sid = submission_id(request.job_id, request.attempt)
        resources = request.resources
        memory = resources.memory_bytes
        # A distributed job's driver only coordinates: each Ray Train worker gets the resources.
        single = resources.workers <= 1
        request.working_dir.mkdir(parents=True, exist_ok=True)
        with self._errors(address, f"submitting job {request.job_id}"):
            client = self._client(address)
            try:
                client.submit_job(
                    entrypoint=self._entrypoint(request.argv),
                    submission_id=sid,
                    runtime_env={
                        "working_dir": str(request.working_dir),
                        "env_vars": self._environment(request),
                    },
                    metadata={
                        "griffin_job_id": request.job_id,
                        "griffin_project": request.project,
                        "griffin_attempt": str(request.attempt),
                    },
                    entrypoint_num_cpus=resources.cpus if single else None,
                    entrypoint_num_gpus=(resources.gpus or None) if single else None,
                    entrypoint_memory=(memory or None) if single else None,
                )
            except RuntimeError as exc:
                if "already exists" not in str(exc):
                    raise
                # This attempt was submitted before (by a dispatcher that then died): it is
                # that Ray job, never a second one.
        return self._handle(address, sid)

    def status(self, handle: Handle) -> LaunchStatus:
        address, sid = str(handle["address"]), str(handle["submission_id"])
        with self._errors(address, f"reading Ray job {sid}"):
            client = self._client(address)
            try:
                info = client.get_job_info(sid)
            except RuntimeError as exc:
                if "status code 404" not in str(exc):
                    raise
                return LaunchStatus("lost", None, f"the Ray cluster at {address} has no job {sid}")
        state = JobStatus(info.status)
        if state == JobStatus.PENDING:
            return LaunchStatus("running", None, "the Ray job is pending (resources, environment)")
        if state == JobStatus.RUNNING:
            return LaunchStatus("running", None, "the Ray job is running")
        if state == JobStatus.SUCCEEDED:
            return LaunchStatus("succeeded", 0, "the Ray job succeeded")
        if state == JobStatus.STOPPED:
            return LaunchStatus("failed", 128 + signal.SIGTERM, "the Ray job was stopped")
        error = str(getattr(info.error_type, "value", info.error_type or ""))
        if error in _INFRASTRUCTURE_ERRORS:
            return LaunchStatus(
                "lost", None, f"Ray could not run the job: {error}: " + _first_line(info.message)
            )
        code = getattr(info, "driver_exit_code", None)
        if code is None:
            return LaunchStatus("failed", None, f"the Ray job failed: {_first_line(info.message)}")
        return _ended(int(code))

    def logs(self, handle: Handle, offset: int) -> bytes:
        address, sid = str(handle["address"]), str(handle["submission_id"])
        with self._errors(address, f"reading the log of Ray job {sid}"):
            client = self._client(address)
            try:
                text = client.get_job_logs(sid)
            except RuntimeError as exc:
                if "status code 404" not in str(exc):
                    raise
                return b""
        # Ray returns the whole log each time; offsets count bytes of its UTF-8 encoding.
        return text.encode("utf-8", "replace")[offset : offset + MAX_LOG_READ]

    def cancel(self, handle: Handle) -> None:
        address, sid = str(handle["address"]), str(handle["submission_id"])
        with self._errors(address, f"stopping Ray job {sid}"):
            client = self._client(address)
            try:
                client.stop_job(sid)
            except RuntimeError as exc:
                if "status code 404" not in str(exc):
                    raise

    def recover(self, job_id: str, attempt: int) -> Handle | None:
        address = _address(self.settings)
        sid = submission_id(job_id, attempt)
        with self._errors(address, f"looking for Ray job {sid}"):
            client = self._client(address)
            try:
                client.get_job_info(sid)
            except RuntimeError as exc:
                if "status code 404" not in str(exc):
                    raise
                return None
        return self._handle(address, sid)

    def close(self) -> None:
        with self._lock:
            self._clients.clear()
