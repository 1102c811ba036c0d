"""The launcher protocol: how a dispatcher starts, watches, reads and stops a job's process.

A launcher is a backend (local processes, Ray, Kubernetes, ...) behind four methods. It knows
nothing of the metadata store: the dispatcher claims a job, hands the launcher a
:class:`LaunchRequest`, stores the JSON *handle* it gets back on the job's row, and later asks
about the process through that handle, possibly from another dispatcher after a crash. So a
handle must hold everything needed to find the process again, and nothing that only makes
sense inside one Python process.

Backends are chosen by name (the job spec's ``backend``) through :mod:`griffin.plugins`,
kind ``launcher``; each is constructed as ``cls(settings)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from griffin.domain.jobs import Resources
from griffin.errors import NotSupported

if TYPE_CHECKING:
    from griffin.config import Settings

__all__ = ["Handle", "LaunchRequest", "LaunchState", "LaunchStatus", "Launcher"]

# A JSON object: stored on the job's row as-is.
Handle = dict[str, Any]
LaunchState = Literal["running", "succeeded", "failed", "lost"]


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """Everything a launcher needs to start one attempt of a job.

    Attributes:
        job_id: the job's id.
        project: the job's project name.
        attempt: 1 for the first launch, one more for each retry.
        argv: the command to run (``python -m <entry point> --job <id>``).
        env: the complete environment of the process.
        working_dir: the folder the process starts in (created by the launcher if missing).
        resources: what the job asked for; a launcher that cannot honour them says so.
        timeout_s: the job's time limit (the dispatcher enforces it; a launcher may too).
        runtime: a standard runtime the environment must satisfy, checked before launching.
    """

    job_id: str
    project: str
    attempt: int
    argv: list[str]
    env: dict[str, str]
    working_dir: Path
    resources: Resources = field(default_factory=Resources)
    timeout_s: int | None = None
    runtime: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchStatus:
    """What became of a launched process.

    Attributes:
        state: ``running``; ``succeeded`` (exit code 0); ``failed`` (non-zero exit code, or
            killed by a signal: ``exit_code`` is then 128 + the signal number); ``lost`` (the
            process is gone and its outcome cannot be known).
        exit_code: the exit code once it ended, when known.
        message: a short explanation for people (and for the job's status reason).
    """

    state: LaunchState
    exit_code: int | None = None
    message: str = ""


class Launcher(ABC):
    """A backend that runs job processes.

    ``submit``, ``status`` and ``cancel`` are required; ``logs`` and ``recover`` are optional
    and raise :class:`~griffin.errors.NotSupported` here. Implementations must be safe to call
    from one dispatcher thread at a time; a handle may come from another process (a dispatcher
    that crashed), so methods must not rely on in-memory state alone.

    Args:
        settings: Griffin's settings (``jobs_root``, ``job_cancel_grace_s``, ...).
    """

    name: str = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Called (from any thread) when a process it started may have ended, so a dispatcher
        # can look at once instead of at its next poll. Optional: polling alone is correct.
        self.on_change: Callable[[], None] | None = None
        # Whether more jobs are expected after the current ones; a launcher may prepare for
        # them (the local one starts the next job's interpreter ahead). False for a command
        # that runs a single job in the foreground.
        self.expect_more = True

    def changed(self) -> None:
        """Tell whoever watches this launcher that a process's state may have changed."""
        callback = self.on_change
        if callback is not None:
            callback()

    @abstractmethod
    def submit(self, request: LaunchRequest) -> Handle:
        """Start the process and return its handle (a JSON object).

        Raises:
            InvalidArgument: the request cannot run as asked, through the job's own fault
                (e.g. its runtime is not satisfied): the job fails and is not retried.
            BackendUnavailable: the backend cannot take it now: the job is retried when it
                has retries left.
        """

    @abstractmethod
    def status(self, handle: Handle) -> LaunchStatus:
        """Where the process of ``handle`` stands now; never blocks for long.

        Raises:
            NotSupported: this launcher cannot check that handle from here (e.g. a local
                process on another host).
        """

    def logs(self, handle: Handle, offset: int) -> bytes:
        """The process's combined output from byte ``offset`` on (what is new since then).

        May return fewer bytes than are available; call again with the new offset.
        """
        raise NotSupported(f"the {self.name or type(self).__name__} launcher does not keep logs")

    @abstractmethod
    def cancel(self, handle: Handle) -> None:
        """Ask the process to stop, forcibly after a grace period; returns without waiting.

        Cancelling a process that already ended does nothing.
        """

    def recover(self, job_id: str, attempt: int) -> Handle | None:
        """The handle of an attempt whose launch was never recorded (the dispatcher died
        between starting it and saving its handle), or None when it was never started."""
        raise NotSupported(
            f"the {self.name or type(self).__name__} launcher cannot recover unrecorded launches"
        )

    def prepare(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Get ready for jobs to come (called when a dispatcher starts its loop)."""

    def close(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Release resources (connections, threads); running processes are left alone."""
