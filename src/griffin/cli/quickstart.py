"""``griffin quickstart``: the whole life of a model, then where to see each step again."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column
from rich.text import Text

from griffin.cli.output import err_console, out_console, print_json
from griffin.cli.state import JsonOpt, ProjectOpt, current_state
from griffin.quickstart import (
    EPOCHS,
    STEPS,
    QuickstartResult,
    project_folder,
    require_sklearn,
    run_quickstart,
)

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.progress import TaskID

    from griffin.config import Settings

_TITLES = dict(STEPS)


class _Mark(ProgressColumn):
    """A spinner while a step runs, then its mark (done, skipped or failed)."""

    def __init__(self, table_column: Column | None = None) -> None:
        super().__init__(table_column)
        self._spinner = SpinnerColumn()

    def render(self, task: Task) -> RenderableType:
        if task.finished:
            return Text.from_markup(str(task.fields.get("mark", "")))
        return self._spinner.render(task)


class _Display:
    """The quickstart's observer: one line per step on standard error, kept when done."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.current: TaskID | None = None
        self.total: int | None = None

    def begin(self, step: str, total: int | None = None) -> None:
        self.total = total
        self.current = self.progress.add_task(_TITLES[step], total=None, detail="", mark="")

    def advance(self, done: int, detail: str) -> None:
        if self.current is not None:
            counted = f"{done}/{self.total}  " if self.total else ""
            self.progress.update(self.current, detail=f"{counted}{detail}")

    def end(self, detail: str) -> None:
        self._finish("[green]✓[/green]", detail)

    def skip(self, reason: str) -> None:
        self._finish("[yellow]-[/yellow]", reason)

    def fail(self) -> None:
        if self.current is not None and not self.progress.tasks[self.current].finished:
            self._finish("[red]✗[/red]", "failed")

    def _finish(self, mark: str, detail: str) -> None:
        if self.current is not None:
            self.progress.update(self.current, total=1, completed=1, mark=mark, detail=detail)


def _summary(result: QuickstartResult, server_url: str) -> None:
    console = out_console()
    console.print()
    reached = "predictions" if result.predictions else "a deployment"
    console.print(
        f"[bold green]✓[/bold green] From sample data to {reached} in {result.seconds:.1f} s, "
        f"in project '{result.project}'"
    )
    console.print(f"  files: {result.folder} (features.py, data/)", markup=False)
    if result.predictions:
        route = f"{result.server_url}/v1/deployments/{result.deployment}/predict"
        console.print()
        console.print(
            f"[bold]Predictions[/bold] of {result.model}@{result.alias} (v{result.version}) "
            "over HTTP, by shopper id alone (features read online):"
        )
        console.print(f"  POST {route}", markup=False, highlight=False, soft_wrap=True)
        for prediction in result.predictions:
            verdict = "will churn" if prediction.churned == 1 else "stays"
            console.print(
                f"  shopper {prediction.shopper_id}  churned={prediction.churned}  ({verdict})",
                markup=False,
            )
    for skipped, reason in result.skipped.items():
        console.print()
        console.print(f"[yellow]{_TITLES[skipped]}: skipped[/yellow]: {escape(reason)}")
    console.print()
    console.print("[bold]Where to see each step[/bold]")
    for step in result.steps:
        _hint(f"{_TITLES[step.step]}: {step.did}", step.command)
    runs = f"{result.command} runs list --experiment {result.experiment}"
    curl = (
        f"curl -s -XPOST 127.0.0.1:6570/v1/deployments/{result.deployment}/predict "
        """-d '{"rows": [{"shopper_id": 1001}]}'"""
    )
    for why, command in (
        ("every run of the quickstart, newest first", runs),
        ("serve the deployment yourself, then ask it (another shell)", curl),
        (f"the REST API, with its docs at {server_url}/api/v1/docs", "griffin server"),
    ):
        _hint(why, command)


def _hint(why: str, command: str) -> None:
    """A comment saying what the command shows, then the command, ready to copy."""
    console = out_console()
    # soft_wrap: a long command stays on one line, so it copies as it is.
    console.print(f"  [dim]# {escape(why)}[/dim]", highlight=False, soft_wrap=True)
    console.print(f"  [cyan]{escape(command)}[/cyan]", highlight=False, soft_wrap=True)


def _unflagged_project(settings: Settings, flagged: str | None) -> str:
    """The project a plain ``griffin ...`` command works in: the setting, without the global
    ``--project`` this command may have been given."""
    if not flagged:
        return settings.project
    from griffin.config import load_settings

    return load_settings().project


def _target(settings: Settings) -> str:
    """Where everything goes, in words: the server, or the embedded store's folder."""
    from griffin.config import mask_url

    if settings.url:
        return settings.url
    if not settings.database_url:
        return f"the embedded store in {settings.home}"
    return mask_url(settings.database_url)


def quickstart(
    epochs: Annotated[int, typer.Option(min=1, max=1000, help="Training epochs.")] = EPOCHS,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """The whole life of a model, with nothing to set up: features to predictions over HTTP.

    In a sample project written under $GRIFFIN_HOME/quickstart/PROJECT (never the current
    folder) it applies feature definitions over bundled sample data, materializes them
    online, builds point-in-time training data and saves it as datasets, trains a logistic
    regression (scikit-learn's SGDClassifier, one partial_fit pass per epoch) in a run of the
    experiment 'quickstart', registers it as model 'shopper-churn' with its lineage,
    evaluates it on a holdout set, promotes it to @champion, deploys it as 'shopper-churn',
    serves it on a free port of 127.0.0.1 and asks it for predictions by shopper id. Then it
    prints the command that shows each step again. Without GRIFFIN_URL everything is stored
    under $GRIFFIN_HOME (default ~/.griffin); with it, the serving steps are skipped. Run it
    as often as you like.
    """
    require_sklearn()
    state = current_state()
    settings = state.settings()
    chosen = state.project_for(project)
    if not json:
        err_console().print(
            f"Griffin quickstart, on {_target(settings)}; sample project in "
            f"{project_folder(settings, chosen)}",
            markup=False,
        )
    progress = Progress(
        # Only the detail, last, may wrap: a narrow terminal squeezes it, never the marks.
        _Mark(table_column=Column(no_wrap=True, min_width=1)),
        TextColumn("{task.description}", table_column=Column(no_wrap=True, min_width=36)),
        TimeElapsedColumn(table_column=Column(no_wrap=True, min_width=7)),
        TextColumn("{task.fields[detail]}", table_column=Column(no_wrap=False)),
        console=err_console(),
        disable=json,
    )
    display = _Display(progress)
    with progress:
        try:
            result = run_quickstart(
                settings,
                project=chosen,
                epochs=epochs,
                observer=display,
                default_project=_unflagged_project(settings, state.project),
            )
        except BaseException:
            display.fail()
            raise
    if json:
        print_json(result)
        return
    _summary(result, settings.url or f"http://{settings.host}:{settings.port}")


def register(app: typer.Typer) -> None:
    """Add ``griffin quickstart`` to the root command."""
    app.command("quickstart")(quickstart)
