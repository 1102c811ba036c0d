"""``griffin jobs`` and ``griffin worker``: training jobs and the processes that run them."""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from griffin.cli.output import print_json, print_kv, print_note, print_table, to_jsonable
from griffin.cli.state import JsonOpt, ProjectOpt, current_state, open_client
from griffin.domain.jobs import Job, JobKind, JobStatus

if TYPE_CHECKING:
    from griffin.domain.jobs import JobEvent

app = typer.Typer(
    help="Training jobs: list, show, follow logs, cancel.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

JobIdArg = Annotated[str, typer.Argument(metavar="ID", help="The job's id.")]


def register(root: typer.Typer) -> None:
    """Add the top-level ``griffin worker`` command to ``root``."""
    root.command("worker")(worker_command)


@app.command("list")
def list_command(
    status: Annotated[
        JobStatus | None,
        typer.Option("--status", "-s", help="Only jobs in this status.", show_default=False),
    ] = None,
    kind: Annotated[
        JobKind | None, typer.Option(help="Only jobs of this kind.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many jobs.")] = 50,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the project's jobs, newest first."""
    with open_client(project) as client:
        found = client.list_jobs(status=status, kind=kind, limit=limit)
    if json:
        print_json([j.to_json() for j in found])
        return
    print_table(
        ["id", "kind", "model", "status", "attempt", "created", "by", "reason"],
        [
            (
                j.id,
                str(j.kind),
                j.spec.model,
                str(j.status),
                j.attempt,
                j.created_at,
                j.created_by,
                j.status_reason,
            )
            for j in found
        ],
        empty="no jobs: `griffin train` submits one",
        optional=["reason", "by", "created", "attempt"],
    )


def _print_job(job: Job, events: list[JobEvent]) -> None:
    spec = job.spec
    resources = spec.resources
    print_kv(
        [
            ("id", job.id),
            ("kind", str(spec.kind)),
            (
                "model",
                spec.model
                + ("" if spec.definition_version is None else f" v{spec.definition_version}"),
            ),
            ("status", str(job.status) + (" (cancel requested)" if job.cancel_requested else "")),
            ("reason", job.status_reason),
            ("attempt", f"{job.attempt} of {spec.retries + 1}"),
            ("backend", spec.backend),
            (
                "resources",
                f"{resources.cpus:g} cpu, {resources.memory or 'default'} memory, "
                f"{resources.gpus} gpu, {resources.workers} worker(s)",
            ),
            ("params", ", ".join(f"{k}={v}" for k, v in spec.params.items())),
            ("data", to_jsonable(spec.data) if spec.data else ""),
            ("timeout", "" if spec.timeout_s is None else f"{spec.timeout_s} s"),
            ("created", f"{job.created_at:%Y-%m-%d %H:%M:%S} by {job.created_by}"),
            ("started", job.started_at),
            ("ended", job.ended_at),
            ("worker", job.worker_id or ""),
            ("handle", "" if job.handle is None else to_jsonable(job.handle)),
            ("result", "" if job.result is None else to_jsonable(job.result)),
        ]
    )
    print_table(
        ["#", "from", "to", "at", "worker", "reason"],
        [
            (
                e.seq,
                "" if e.from_status is None else str(e.from_status),
                str(e.to_status),
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.worker_id or "",
                e.reason,
            )
            for e in events
        ],
        title="status history",
        optional=["worker"],
    )


@app.command("show")
def show_command(job_id: JobIdArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Show one job: its spec, status and reason, attempt, handle, result and history."""
    with open_client(project) as client:
        job = client.get_job(job_id)
        events = client.job_events(job_id)
    if json:
        print_json({**job.to_json(), "events": [e.to_json() for e in events]})
        return
    _print_job(job, events)


@app.command("logs")
def logs_command(
    job_id: JobIdArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the job has ended.")
    ] = False,
    attempt: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="A past attempt of a retried job (default: the current one).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
) -> None:
    """Print a job's output (standard output and error of its process)."""
    with open_client(project) as client:
        if follow:
            for text in client.follow_logs(job_id, attempt=attempt):
                sys.stdout.write(text)
                sys.stdout.flush()
            job = client.get_job(job_id)
            print_note(f"job {job_id} {job.status}: {job.status_reason}")
            return
        offset = 0
        while True:
            data, offset_next = client.job_logs(job_id, offset, attempt)
            if not data:
                break
            sys.stdout.write(data.decode("utf-8", errors="replace"))
            offset = offset_next
        sys.stdout.flush()


@app.command("cancel")
def cancel_command(job_id: JobIdArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Cancel a job: a queued one at once, a running one is stopped by its worker."""
    with open_client(project) as client:
        job = client.cancel_job(job_id)
    if json:
        print_json(job.to_json())
        return
    if job.status == JobStatus.CANCELLED:
        print_note(f"job {job.id} cancelled")
    else:
        print_note(f"job {job.id} is {job.status}: its worker will stop it (SIGTERM, then SIGKILL)")


def worker_command(
    backend: Annotated[
        list[str] | None,
        typer.Option(
            "--backend",
            "-b",
            help="Run jobs of this launcher backend (repeat for several; default: local).",
            show_default=False,
        ),
    ] = None,
    max_jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Jobs run at the same time (default: the `job_max_parallel` setting, 4).",
            show_default=False,
        ),
    ] = None,
    poll_interval: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="Seconds between polls (default: the `job_poll_interval_s` setting, 1).",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Do one step (claim, launch, poll) and exit.")
    ] = False,
) -> None:
    """Run a worker: claim queued jobs, launch them and watch them to the end.

    It talks to the metadata database directly (GRIFFIN_DATABASE_URL). Ctrl-C (or SIGTERM)
    stops claiming and exits at once; jobs already running are left running, and the next
    worker or server on this host adopts them, records how they end, and ships their logs.
    """
    from griffin.platform import open_platform
    from griffin.training.dispatcher import Dispatcher

    platform = open_platform(current_state().settings())
    try:
        dispatcher = Dispatcher(
            platform, backends=backend or ["local"], max_jobs=max_jobs, poll_interval=poll_interval
        )
        if once:
            dispatcher.step()
            dispatcher.shutdown()
            return
        stop = threading.Event()

        def stop_now(*_: object) -> None:
            stop.set()
            dispatcher.wake()  # not after the poll interval

        previous = signal.signal(signal.SIGTERM, stop_now)
        print_note(
            f"worker {dispatcher.worker_id}: running {', '.join(dispatcher.backends)} jobs, "
            f"{dispatcher.max_jobs} at a time; Ctrl-C to stop"
        )
        try:
            thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), daemon=True)
            thread.start()
            while thread.is_alive():
                thread.join(0.2)
        except KeyboardInterrupt:
            stop_now()
            thread.join(30)
        finally:
            signal.signal(signal.SIGTERM, previous)
        running = dispatcher.left_running
        print_note(
            f"worker {dispatcher.worker_id} stopped"
            + (f"; {running} job(s) left running" if running else "")
        )
    finally:
        platform.close()
