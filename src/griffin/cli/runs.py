"""``griffin runs``: list, inspect, search and delete tracked runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import typer

from griffin.cli.output import out_console, print_json, print_kv, print_table, to_jsonable
from griffin.cli.state import JsonOpt, ProjectOpt, open_client
from griffin.domain.tracking import Artifact, Run, RunStatus

app = typer.Typer(
    help="List, show, search and delete runs.", no_args_is_help=True, rich_markup_mode="markdown"
)

RunIdArg = Annotated[str, typer.Argument(metavar="ID", help="The run's id.")]
# At most this many metric columns in a table; `runs show` has them all.
_METRIC_COLUMNS = 4


def _duration(run: Run) -> str:
    end = run.ended_at or (None if run.status.is_terminal else datetime.now(run.created_at.tzinfo))
    if end is None:
        return ""
    seconds = max(0.0, (end - run.created_at).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def run_rows(
    found: Sequence[Run], *, with_experiment: bool = True, metric_keys: Sequence[str] = ()
) -> tuple[list[str], list[list[Any]]]:
    """Table columns and rows for runs, with a few metric columns (``metric_keys`` first)."""
    keys = list(dict.fromkeys(metric_keys))
    for key in sorted({k for run in found for k in run.metrics}):
        if key not in keys:
            keys.append(key)
    keys = keys[:_METRIC_COLUMNS]
    columns = ["id", "name", *(["experiment"] if with_experiment else []), "status", "started"]
    columns += ["duration", *keys]
    rows = []
    for run in found:
        row: list[Any] = [run.id, run.name, *([run.experiment] if with_experiment else [])]
        row += [str(run.status), run.created_at, _duration(run)]
        row += [run.metrics[k].value if k in run.metrics else None for k in keys]
        rows.append(row)
    return columns, rows


def optional_columns(columns: Sequence[str]) -> list[str]:
    """Columns a narrow terminal may drop, the last one first: details, then the last metrics."""
    details = ["name", "experiment", "started", "duration"]
    return [c for c in columns if c not in _FIXED] + [c for c in details if c in columns]


# Columns of run_rows that are not metrics.
_FIXED = frozenset({"id", "name", "experiment", "status", "started", "duration"})


@app.command("list")
def list_command(
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment", "-e", help="Only runs of this experiment.", show_default=False
        ),
    ] = None,
    status: Annotated[
        RunStatus | None,
        typer.Option(case_sensitive=False, help="Only runs in this state.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many runs.")] = 100,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List runs, newest first.

    Example: `griffin runs list --experiment quickstart --status finished`.
    """
    with open_client(project) as client:
        found = client.list_runs(experiment=experiment, status=status, limit=limit)
    if json:
        print_json(found)
        return
    columns, rows = run_rows(found, with_experiment=experiment is None)
    print_table(
        columns,
        rows,
        empty="no runs yet: `griffin quickstart` makes one",
        optional=optional_columns(columns),
    )


def _history_rows(run: Run) -> list[tuple[str, str, datetime]]:
    return [(str(change.status), change.reason, change.at) for change in run.history]


@app.command("show")
def show(run_id: RunIdArg, json: JsonOpt = False) -> None:
    """Show a run: its params, latest metrics, tags, status history and artifacts."""
    with open_client() as client:
        run = client.get_run(run_id)
        artifacts: list[Artifact] = client.list_artifacts(run_id)
    if json:
        print_json({**to_jsonable(run), "artifacts": to_jsonable(artifacts)})
        return
    status = str(run.status) + (f" ({run.status_reason})" if run.status_reason else "")
    print_kv(
        [
            ("id", run.id),
            ("name", run.name),
            ("experiment", run.experiment),
            ("project", run.project),
            ("status", status),
            ("user", run.user),
            ("started", run.created_at),
            ("ended", run.ended_at),
            ("duration", _duration(run)),
            ("artifacts at", run.artifact_uri),
            *([("parent run", run.parent_run_id)] if run.parent_run_id else []),
        ],
        title=f"run {run.id}",
    )
    print_table(["param", "value"], sorted(run.params.items()), title="params", empty="no params")
    print_table(
        ["metric", "value", "step", "logged"],
        [(m.key, m.value, m.step, m.timestamp) for _, m in sorted(run.metrics.items())],
        title="metrics (latest value)",
        empty="no metrics",
    )
    print_table(["tag", "value"], sorted(run.tags.items()), title="tags", empty="no tags")
    print_table(["status", "reason", "at"], _history_rows(run), title="status history")
    print_table(
        ["path", "size", "sha256"],
        [(a.path, _size(a.size), (a.sha256 or "")[:12]) for a in artifacts],
        title="artifacts",
        empty="no artifacts",
    )


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


@app.command("delete")
def delete(
    run_id: RunIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json: JsonOpt = False,
) -> None:
    """Delete a run: it leaves lists and searches (its data and artifacts are kept).

    A run still RUNNING is marked KILLED.
    """
    if not yes:
        typer.confirm(f"Delete run {run_id}?", abort=True, err=True)
    with open_client() as client:
        client.delete_run(run_id)
    if json:
        print_json({"id": run_id, "deleted": True})
    else:
        out_console().print(f"deleted run {run_id}", markup=False)


@app.command("search")
def search(
    filter_: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            help="e.g. \"metrics.val_accuracy > 0.9 AND params.model = 'SGDClassifier'\".",
            show_default=False,
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by",
            "-o",
            help='e.g. "metrics.val_accuracy DESC"; repeat for ties.',
            show_default=False,
        ),
    ] = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment", "-e", help="Only this experiment; repeatable.", show_default=False
        ),
    ] = None,
    max_results: Annotated[
        int, typer.Option(min=1, max=50_000, help="At most this many runs.")
    ] = 100,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Search runs with a filter and an order (the same grammar as MLflow).

    Comparisons are joined by AND: metrics take numbers (`metrics.acc > 0.9`), params and tags
    take quoted strings (`params.lr = '0.01'`, `tags.team LIKE 'vision%'`), and attributes
    such as `attributes.status = 'FINISHED'`. See docs/tracking.md for the whole grammar.
    """
    with open_client(project) as client:
        found = client.search_runs(
            experiments=experiment or None,
            filter=filter_,
            order_by=order_by or None,
            max_results=max_results,
        )
    if json:
        print_json(found)
        return
    mentioned = [
        clause.split()[0].split(".", 1)[1]
        for clause in (order_by or [])
        if clause.lower().startswith(("metrics.", "metric."))
    ]
    columns, rows = run_rows(found, metric_keys=mentioned)
    print_table(columns, rows, empty="no run matches", optional=optional_columns(columns))
