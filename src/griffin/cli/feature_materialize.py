"""``griffin features materialize``, ``status`` and ``push``: getting feature values online."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from griffin.cli.output import (
    err_console,
    format_time,
    print_error,
    print_json,
    print_kv,
    print_note,
    print_table,
)
from griffin.cli.state import JsonOpt, ProjectOpt, open_client
from griffin.domain.feature_states import CheckReport, ViewState
from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    from griffin.client.feature_push import Progress


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time such as 2025-03-01T00:00:00Z", param_hint=option
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    total = int(abs(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    if not days:
        parts.append(f"{minutes}m")
    if not days and not hours:
        parts.append(f"{secs}s")
    return ("-" if seconds < 0 else "") + " ".join(parts)


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    """A Rich bar per view on a terminal, a plain line per chunk otherwise, or nothing."""
    if not enabled:
        yield None
        return
    console = err_console()
    if not console.is_terminal:

        def line(view: str, done: int, total: int) -> None:
            if done or not total:
                console.print(f"{view}: {done}/{total} rows written", markup=False)

        yield line
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=console,
    ) as display:

        def update(view: str, done: int, total: int) -> None:
            if view not in bars:
                bars[view] = display.add_task(view, total=total)
            display.update(bars[view], completed=done, total=total)

        yield update


def _print_report(exc: InvalidArgument) -> bool:
    """Print a failed check report (from the error's details); False if it carries none."""
    report = CheckReport.from_error_details(exc.details)
    if report is None:
        return False
    print_error(f"feature view {report.view!r}: data checks failed, nothing was written")
    console = err_console()
    for failure in report.failures:
        console.print(f"  {failure}", markup=False, soft_wrap=True)
        for example in failure.examples:
            console.print(f"      e.g. {example}", markup=False, soft_wrap=True)
    return True


def materialize_command(
    views: Annotated[
        list[str] | None,
        typer.Argument(help="Feature views (default: every online view).", show_default=False),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="First event time included (ISO 8601; naive is UTC).", show_default=False
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(help="First event time excluded (default: now).", show_default=False),
    ] = None,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Start each view at its stored watermark.")
    ] = False,
    definitions: Annotated[
        Path | None,
        typer.Option(
            help="Local definitions (features.py or a folder) to use instead of the registry's.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Copy the latest feature values per entity from the views' sources to the online store.

    Give a window with `--start`/`--end`, or `--incremental` to go on from each view's
    watermark. Checks run first: a view whose rows fail one writes nothing (exit status 1).
    """
    if incremental and start is not None:
        raise typer.BadParameter("use either --start/--end or --incremental", param_hint="--start")
    window = (_time(start, "--start"), _time(end, "--end"))
    try:
        with open_client(project) as client, _progress(not json) as progress:
            results = client.materialize(
                views or None,
                start=window[0],
                end=window[1],
                incremental=incremental,
                definitions=definitions,
                progress=progress,
            )
    except InvalidArgument as exc:
        if _print_report(exc):
            raise typer.Exit(1) from None
        raise
    if json:
        print_json(results)
        return
    print_table(
        ["view", "start", "end", "entities", "written", "watermark", "seconds"],
        [
            (
                r.view,
                format_time(r.start) or "(beginning)",
                format_time(r.end),
                r.rows,
                r.written,
                format_time(r.watermark),
                round(r.duration_s, 2),
            )
            for r in results
        ],
        empty="no online feature views to materialize: `griffin features apply` registers them",
        optional=["seconds", "watermark", "written"],
    )


def _status_rows(found: list[ViewState]) -> list[tuple[Any, ...]]:
    return [
        (
            s.view,
            "yes" if s.online else "no",
            s.freshest_event,
            _age(s.age_s),
            _age(s.max_age_s),
            {None: "", True: "BREACHED", False: "ok"}[s.breached],
            s.watermark,
            s.last_run_status or "never",
            s.last_run_rows,
            s.last_push_at,
            s.pushed_rows,
        )
        for s in found
    ]


def status_command(
    view: Annotated[
        str | None, typer.Argument(help="One feature view (default: all).", show_default=False)
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show what is online per feature view: freshness, watermark, last run and last push."""
    with open_client(project) as client:
        found = client.feature_states([view] if view else None)
    if json:
        print_json(found[0] if view else found)
        return
    if view:
        state = found[0]
        window = f"{format_time(state.last_run_start) or '(beginning)'} -> "
        print_kv(
            [
                ("view", state.view),
                ("online", "yes" if state.online else "no"),
                ("freshest event", state.freshest_event),
                ("age", _age(state.age_s)),
                ("freshness check", _age(state.max_age_s) or "none"),
                ("breached", {None: "", True: "BREACHED", False: "no"}[state.breached]),
                ("watermark", state.watermark),
                ("last run", state.last_run_status or "never"),
                ("last run at", state.last_run_at),
                ("last run window", window + format_time(state.last_run_end)),
                ("last run rows", state.last_run_rows),
                ("last run error", state.last_run_error),
                ("last push", state.last_push_at),
                ("pushed rows", state.pushed_rows),
                ("view version", state.view_version or ""),
            ]
        )
        return
    print_table(
        [
            "view",
            "online",
            "freshest event",
            "age",
            "max age",
            "freshness",
            "watermark",
            "last run",
            "rows",
            "last push",
            "pushed",
        ],
        _status_rows(found),
        empty="no feature views in the registry: `griffin features apply` registers them",
        optional=["max age", "watermark", "pushed", "last push", "rows", "online"],
    )
    breached = [s.view for s in found if s.breached]
    if breached:
        print_note(f"freshness check breached: {', '.join(breached)}")


def _read_rows(path: Path) -> Any:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InvalidArgument(f"no such file: {str(path)!r}", details={"field": "file"})
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix == ".csv":
            import pyarrow.csv

            return pyarrow.csv.read_csv(path)
        if suffix in {".jsonl", ".ndjson"}:
            import pyarrow.json

            return pyarrow.json.read_json(path)
    except Exception as exc:  # pyarrow's parse errors: one line naming the file
        raise InvalidArgument(f"cannot read {str(path)!r}: {exc}") from None
    raise InvalidArgument(
        f"{str(path)!r}: push reads .parquet, .csv or .jsonl files", details={"field": "file"}
    )


def push_command(
    view: Annotated[str, typer.Argument(help="The push-sourced feature view.")],
    file: Annotated[Path, typer.Argument(help="Rows to push: a .parquet, .csv or .jsonl file.")],
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Push rows from a file to a feature view: its offline log, then the online store."""
    rows = _read_rows(file)
    try:
        with open_client(project) as client:
            result = client.push(view, rows)
    except InvalidArgument as exc:
        if _print_report(exc):
            raise typer.Exit(1) from None
        raise
    if json:
        print_json(result)
        return
    print_kv(
        [
            ("view", result.view),
            ("rows", result.rows),
            ("written online", result.written),
            ("freshest event", result.freshest_event),
            ("offline log", result.offline_path),
        ]
    )
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``griffin features``."""
    app.command("materialize")(materialize_command)
    app.command("status")(status_command)
    app.command("push")(push_command)
