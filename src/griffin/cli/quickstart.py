"""``griffin quickstart``: train and track a small real model, then show where to look next."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from griffin.cli.output import err_console, out_console, print_json
from griffin.cli.state import JsonOpt, ProjectOpt, current_state
from griffin.quickstart import EPOCHS, QuickstartResult, require_sklearn, run_quickstart

if TYPE_CHECKING:
    from griffin.config import Settings


def _next_steps(result: QuickstartResult, server_url: str) -> None:
    console = out_console()
    accuracy = result.final_metrics.get("val_accuracy", float("nan"))
    auc = result.final_metrics.get("val_auc", float("nan"))
    console.print()
    console.print(
        f"[bold green]✓[/bold green] run [bold]{result.run_id}[/bold] {result.status} in "
        f"experiment '{result.experiment}' (project '{result.project}')"
    )
    console.print(
        f"  val_accuracy [bold]{accuracy:.4f}[/bold]   val_auc {auc:.4f}   "
        f"after {result.epochs} epochs"
    )
    console.print(f"  artifacts: {', '.join(result.artifacts)}")
    console.print()
    console.print("[bold]Where to look next[/bold]")
    steps = [
        ("every run, newest first", "griffin runs list"),
        ("this run's params, metrics, tags and artifacts", f"griffin runs show {result.run_id}"),
        (
            "the best runs first",
            "griffin runs search --filter 'metrics.val_accuracy > 0.9' "
            "--order-by 'metrics.val_accuracy DESC'",
        ),
        (f"the REST API, with its docs at {server_url}/api/v1/docs", "griffin server"),
    ]
    for why, command in steps:
        console.print(f"  [dim]# {why}[/dim]")
        console.print(f"  [cyan]{command}[/cyan]")


def _target(settings: Settings) -> str:
    """Where the run goes, in words: the server, or the embedded store's database."""
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
    """Train a small real model and track it: your first run, with nothing to set up.

    It fits a logistic regression (scikit-learn's SGDClassifier, one partial_fit pass per epoch)
    on the breast-cancer data set that ships with scikit-learn, and logs params, per-epoch
    metrics (train_loss, val_loss, val_accuracy, val_auc), tags and the fitted model to a new
    run of the experiment 'quickstart'. Without GRIFFIN_URL everything is stored under
    $GRIFFIN_HOME (default ~/.griffin); run it as often as you like.
    """
    require_sklearn()
    state = current_state()
    settings = state.settings()
    if not json:
        message = f"Training the quickstart model, tracking to {_target(settings)}"
        err_console().print(message, markup=False)
    progress = Progress(
        TextColumn("[bold]{task.description:<10}"),
        TextColumn("epoch"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("val_accuracy {task.fields[acc]}"),
        TimeElapsedColumn(),
        console=err_console(),
        disable=json,
    )
    with progress:
        task = progress.add_task("preparing", total=epochs, acc="-")

        def on_epoch(epoch: int, total: int, metrics: dict[str, float]) -> None:
            progress.update(task, completed=epoch, acc=f"{metrics['val_accuracy']:.4f}")

        def on_stage(stage: str) -> None:
            progress.update(task, description=stage)

        result = run_quickstart(
            settings,
            project=state.project_for(project),
            epochs=epochs,
            on_epoch=on_epoch,
            on_stage=on_stage,
        )
    if json:
        print_json(result)
        return
    url = settings.url or f"http://{settings.host}:{settings.port}"
    _next_steps(result, url)


def register(app: typer.Typer) -> None:
    """Add ``griffin quickstart`` to the root command."""
    app.command("quickstart")(quickstart)
