"""``griffin features training-data`` and ``griffin features datasets``: saved training sets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from griffin.cli.output import format_time, print_json, print_kv, print_note, print_table
from griffin.cli.state import JsonOpt, ProjectOpt, open_client

if TYPE_CHECKING:
    from griffin.domain.datasets import Dataset

datasets_app = typer.Typer(
    help="Saved training datasets: list them and show their statistics and lineage.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``griffin features``."""
    app.command("training-data")(training_data_command)
    app.add_typer(datasets_app, name="datasets")


def _features(refs: list[str]) -> list[str]:
    # "a:x,b:y" and repeated options both work.
    return [part.strip() for ref in refs for part in ref.split(",") if part.strip()]


def _cutoff(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 time, e.g. 2024-05-01T00:00:00+00:00",
            param_hint="--created-before",
        ) from None


def training_data_command(
    entity_rows: Annotated[
        str,
        typer.Argument(
            help="A parquet file, folder or glob, or a SQL query (SELECT ... / WITH ...) run "
            "by DuckDB, with the join keys and the event timestamp column."
        ),
    ],
    feature: Annotated[
        list[str] | None,
        typer.Option(
            "--feature",
            "-f",
            help="A 'view:feature' or 'view' reference (repeat, or separate with commas).",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option(help="A feature service to read instead of --feature.", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write the training set here (parquet).", show_default=False
        ),
    ] = None,
    save: Annotated[
        str | None,
        typer.Option(help="Save it as the next version of this dataset.", show_default=False),
    ] = None,
    description: Annotated[str, typer.Option(help="Description of the saved dataset.")] = "",
    definitions: Annotated[
        Path | None,
        typer.Option(
            help="Your features.py or definitions folder (default: ./features.py if it "
            "exists); needed for on-demand views.",
            show_default=False,
        ),
    ] = None,
    full_names: Annotated[
        bool, typer.Option("--full-names", help="Name feature columns view__feature.")
    ] = False,
    created_before: Annotated[
        str | None,
        typer.Option(
            help="Leave out feature rows created at or after this ISO time (naive: UTC).",
            show_default=False,
        ),
    ] = None,
    event_timestamp_column: Annotated[
        str, typer.Option(help="The entity rows' event time column.")
    ] = "event_timestamp",
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Build point-in-time-correct training data; write it to a file and/or save it.

    Each entity row gets each feature's latest value at or before its event timestamp
    (within the view's TTL); rows without one keep their place with empty values.
    """
    refs = _features(feature or [])
    if bool(refs) == bool(service):
        raise typer.BadParameter("give either --feature (one or more) or --service")
    if output is None and save is None:
        raise typer.BadParameter("give --output, --save or both")
    cutoff = _cutoff(created_before)
    local: Path | None = definitions
    if local is None and Path("features.py").is_file():
        local = Path("features.py")
    with open_client(project) as client:
        training_set = client.get_training_data(
            entity_rows,
            service if service else refs,
            full_names=full_names,
            created_before=cutoff,
            event_timestamp_column=event_timestamp_column,
            definitions=local,
        )
        saved = client.save_dataset(save, training_set, description=description) if save else None
    if output is not None:
        training_set.to_parquet(output)
    result: dict[str, Any] = {
        "rows": training_set.num_rows,
        "columns": training_set.columns,
        "output": None if output is None else str(output),
        "dataset": saved,
    }
    if json:
        print_json(result)
        return
    where = [f"written to {output}"] if output is not None else []
    if saved is not None:
        where.append(f"saved as dataset '{saved.name}' version {saved.version}")
    print_note(
        f"{training_set.num_rows} rows, {len(training_set.columns)} columns "
        f"({', '.join(training_set.columns)}); {' and '.join(where)}"
    )


@datasets_app.command("list")
def list_command(
    name: Annotated[
        str | None,
        typer.Option(help="Every version of this dataset, newest first.", show_default=False),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List saved datasets at their newest version (or every version of --name)."""
    with open_client(project) as client:
        found = client.list_datasets(name)
    if json:
        print_json(found)
        return
    print_table(
        ["name", "version", "rows", "event start", "event end", "created by", "created"],
        [
            (d.name, d.version, d.row_count, d.event_start, d.event_end, d.created_by, d.created_at)
            for d in found
        ],
        empty="no saved datasets: `griffin features training-data ... --save NAME` saves one",
        optional=["created", "created by"],
    )


@datasets_app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    version: Annotated[
        int | None,
        typer.Option(help="A past version (default: the newest).", min=1, show_default=False),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show one saved dataset: its lineage and per-column statistics."""
    with open_client(project) as client:
        found = client.get_dataset(name, version)
    if json:
        print_json(found)
        return
    _print_dataset(found)


def _print_dataset(found: Dataset) -> None:
    features = "; ".join(
        f"{f.view}{'' if f.version is None else f' v{f.version}'}: {', '.join(f.features)}"
        for f in found.features
    )
    service = found.feature_service
    if service is not None and found.feature_service_version is not None:
        service = f"{service} v{found.feature_service_version}"
    print_kv(
        [
            ("name", found.name),
            ("version", found.version),
            ("id", found.id),
            ("rows", found.row_count),
            ("size", f"{found.size_bytes} bytes"),
            ("sha256", found.sha256),
            ("feature service", service or ""),
            ("features", features),
            ("entity source", found.entity_source),
            ("event time", f"{format_time(found.event_start)} .. {format_time(found.event_end)}"),
            ("created before", found.created_before or ""),
            ("description", found.description),
            ("created", f"{format_time(found.created_at)} by {found.created_by}"),
        ]
    )
    print_table(
        ["column", "type", "role", "count", "nulls", "distinct", "min", "max", "mean", "stddev"],
        [
            (c.name, c.type, c.role, c.count, c.nulls, c.distinct, c.min, c.max, c.mean, c.stddev)
            for c in found.columns
        ],
        title="columns",
        optional=["stddev", "mean", "distinct"],
    )
