"""The fluent tracking API (``griffin.start_run``, ``griffin.log_metric``, ...), MLflow-like.

Runs started here form one process-wide stack: the module-level shortcuts act on its top, and a
run started while another is active becomes its child. Metric points are buffered and sent in
batches by the client's flusher thread; params and tags are sent at once (they are few, and a
param conflict must raise where it happens).

Nothing is lost on a normal exit: an ``atexit`` hook sends every buffered point and ends open
runs as FINISHED, and a chained ``sys.excepthook`` marks them FAILED (KILLED for Ctrl-C) on an
uncaught exception. A process that dies without either (``os._exit``, SIGKILL) stops sending
heartbeats, and its runs are marked FAILED after ``heartbeat_timeout_s``.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from griffin.client import Client
from griffin.client.active_run import ActiveRun, failed_status, lock, stack, summary
from griffin.domain.tracking import Artifact, RunStatus
from griffin.errors import Conflict

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tag",
    "set_tags",
    "start_run",
]

_default: Client | None = None


def _default_client() -> Client:
    global _default
    with lock:
        if _default is None or _default.closed:
            _default = Client()
        return _default


def start_run(
    experiment: str = "default",
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    client: Client | None = None,
    parent: ActiveRun | str | None = None,
) -> ActiveRun:
    """Start a run and make it the active one.

    Example::

        with griffin.start_run("mnist", params={"lr": 0.01}) as run:
            for step in range(100):
                griffin.log_metric("loss", train_step())

    Args:
        experiment: the experiment's name (created on first use).
        name: a display name; random when omitted.
        params: logged at once; values are converted with ``str()``.
        tags: logged at once; values are converted with ``str()``.
        client: the client to use; a shared one built from the settings when omitted.
        parent: the parent run (an ``ActiveRun`` or a run id). When omitted and another run
            of the same client is active, the new run is its child.

    Returns:
        The active run; use it as a context manager, or end it with :meth:`ActiveRun.end`.
    """
    client = client or _default_client()
    if parent is None:
        top = active_run()
        parent_id = top.id if top is not None and top.client is client else None
    else:
        parent_id = parent.id if isinstance(parent, ActiveRun) else parent
    run = client.create_run(
        experiment,
        name=name,
        params=dict(params or {}),
        tags=dict(tags or {}),
        parent_run_id=parent_id,
    )
    active = ActiveRun(client, run)
    with lock:
        stack.append(active)
        _install_excepthook()
    return active


def active_run() -> ActiveRun | None:
    """The innermost run started with :func:`start_run` and not yet ended, if any."""
    return stack[-1] if stack else None


def _top() -> ActiveRun:
    if not stack:
        raise Conflict("no active run: call griffin.start_run() first")
    return stack[-1]


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Buffer a metric point for the active run (see :meth:`ActiveRun.log_metric`)."""
    _top().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Buffer several metric points for the active run, at the same step."""
    _top().log_metrics(metrics, step)


def log_param(key: str, value: Any) -> None:
    """Log a param of the active run now."""
    _top().log_param(key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several params of the active run now."""
    _top().log_params(params)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run now."""
    _top().set_tag(key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active run now."""
    _top().set_tags(tags)


def log_artifact(path: str | Path, artifact_path: str | None = None) -> list[Artifact]:
    """Upload a file or directory to the active run."""
    return _top().log_artifact(path, artifact_path)


def flush() -> None:
    """Block until every metric point of the active run is sent."""
    _top().flush()


def end_run(status: RunStatus | str = RunStatus.FINISHED, reason: str = "") -> None:
    """End the active run (sending what is buffered); its parent becomes active again."""
    _top().end(status, reason)


def _end_open_runs(status: RunStatus, reason: str) -> None:
    """End every open run, innermost first; failures are reported, never raised."""
    while True:
        with lock:
            if not stack:
                return
            run = stack[-1]
        try:
            run.end(status, reason)
        except Exception as exc:
            print(f"griffin: could not end run {run.id}: {exc}", file=sys.stderr)
        with lock:
            if run in stack:  # end() failed before unstacking it
                stack.remove(run)


_previous_excepthook = sys.excepthook
_hook_installed = False


def _install_excepthook() -> None:
    global _previous_excepthook, _hook_installed
    if not _hook_installed:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook
        _hook_installed = True


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    # The traceback first: ending runs may take a moment, and the user wants the error now.
    _previous_excepthook(exc_type, exc, tb)
    _end_open_runs(failed_status(exc), f"uncaught {summary(exc)}")


@atexit.register
def _at_exit() -> None:
    # Runs before griffin.client's _close_all (registered earlier; atexit is LIFO).
    _end_open_runs(RunStatus.FINISHED, "ended at interpreter exit")
