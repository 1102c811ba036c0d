"""``griffin features``: plan and apply a project's feature definitions, browse the registry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from griffin.cli import feature_data, feature_materialize, feature_serve, feature_skew
from griffin.cli.output import (
    out_console,
    print_json,
    print_kv,
    print_note,
    print_table,
    to_jsonable,
)
from griffin.cli.state import JsonOpt, ProjectOpt, open_client
from griffin.domain.feature_states import ViewState
from griffin.domain.features import Plan, show

if TYPE_CHECKING:
    from griffin.features.project import Definitions

app = typer.Typer(
    help="Plan and apply feature definitions; list and show what the registry holds.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

PathArg = Annotated[
    Path | None,
    typer.Argument(
        help="A features.py file or a folder of definition files (default: ./features.py if "
        "it exists, else the current folder).",
        show_default=False,
    ),
]
CheckSourcesOpt = Annotated[
    bool,
    typer.Option(
        "--check-sources/--no-check-sources",
        help="Read each feature view's source schema (no rows) and fail on a missing column "
        "or an incompatible type. Skip it when this machine cannot reach the sources.",
    ),
]
_LABEL = {
    "create": "create",
    "update": "update",
    "unchanged": "unchanged",
    "not_in_definitions": "not in your definitions (kept)",
}


def _load(path: Path | None) -> Definitions:
    from griffin.features.project import load_definitions

    if path is None:
        path = Path("features.py") if Path("features.py").is_file() else Path()
    return load_definitions(path)


def _print_plan(plan: Plan) -> None:
    """The plan as a table, then each update's field-level diff, one change a line."""
    rows = [
        (
            _LABEL[item.action],
            item.kind,
            item.name,
            "" if item.version is None else item.version,
            "" if item.new_version is None else item.new_version,
        )
        for item in plan.items
    ]
    print_table(
        ["action", "kind", "name", "version", "new version"],
        rows,
        empty="no feature definitions found and none in the registry",
    )
    console = out_console()
    for item in plan.of("update"):
        console.print(f"\n{item.kind} {item.name} (version {item.version} -> {item.new_version}):")
        for change in item.changes:
            console.print(f"  {change}", markup=False, soft_wrap=True)
    print_note(plan.summary())


@app.command("plan")
def plan_command(
    path: PathArg = None,
    check_sources: CheckSourcesOpt = True,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show what `apply` would change: objects to create, update (with a diff) or keep.

    Objects in the registry that your definitions no longer contain are listed, never deleted.
    """
    definitions = _load(path)
    with open_client(project) as client:
        plan = client.plan_features(definitions, check_sources=check_sources)
    if json:
        print_json(plan)
    else:
        _print_plan(plan)


@app.command("apply")
def apply_command(
    path: PathArg = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    check_sources: CheckSourcesOpt = True,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write your definitions to the registry in one transaction, a new version per change.

    Shows the plan first and asks before writing (unless `--yes`); unchanged definitions
    write nothing, and nothing is deleted.
    """
    definitions = _load(path)
    with open_client(project) as client:
        plan = client.plan_features(definitions, check_sources=check_sources)
        if not json:
            _print_plan(plan)
        if plan.has_changes and not yes:
            typer.confirm("Apply these changes?", abort=True, err=True)
        # The sources were just checked by the plan.
        result = (
            client.apply_features(definitions, check_sources=False) if plan.has_changes else plan
        )
    if json:
        print_json(result)
    elif result.applied:
        out_console().print(result.summary(), markup=False)
    else:
        out_console().print("nothing to apply: the registry matches your definitions")


@app.command("list")
def list_command(
    kind: Annotated[
        str | None,
        typer.Option(
            help="source, entity, feature_view, on_demand_feature_view or feature_service.",
            show_default=False,
        ),
    ] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner.", show_default=False)] = None,
    tag: Annotated[
        str | None, typer.Option(help="A tag: key or key=value.", show_default=False)
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(help="The entity and what is keyed by it.", show_default=False),
    ] = None,
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            "-q",
            help="Free text over name, description, owner and tags.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the registry's objects at their latest version."""
    with open_client(project) as client:
        found = client.list_features(kind, query=query, owner=owner, tag=tag, entity=entity)
    if json:
        print_json(found)
        return
    print_table(
        ["kind", "name", "version", "owner", "tags", "description", "updated"],
        [
            (
                o.kind,
                o.name,
                o.version,
                o.owner,
                ", ".join(f"{k}={v}" for k, v in sorted(o.tags.items())),
                o.description,
                o.updated_at,
            )
            for o in found
        ],
        empty="nothing in the feature registry matches: `griffin features apply` adds definitions",
        optional=["description", "tags", "updated"],
    )


@app.command("show")
def show_command(
    kind: Annotated[str, typer.Argument(help="The object's kind, e.g. feature_view.")],
    name: Annotated[str, typer.Argument(help="The object's name.")],
    version: Annotated[
        int | None,
        typer.Option(help="A past version (default: the latest).", min=1, show_default=False),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show one object: its definition at a version, and the history of its versions."""
    with open_client(project) as client:
        found = client.get_feature_object(kind, name, version)
        state = client.feature_state(name) if kind == "feature_view" else None
    if json:
        print_json(found if state is None else {**to_jsonable(found), "state": state})
        return
    spec = found.spec
    pairs: list[tuple[str, object]] = [
        ("kind", found.kind),
        ("name", found.name),
        ("version", f"{found.version} of {found.latest_version}"),
        ("owner", found.owner),
        ("description", found.description),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(found.tags.items()))),
    ]
    for key in (
        "join_keys",
        "entities",
        "ttl_seconds",
        "online",
        "source",
        "query",
        "timestamp_field",
        "created_timestamp_field",
        "connection",
    ):
        if key in spec:
            value = spec[key]
            pairs.append((key, show(value) if isinstance(value, dict | list) else value))
    pairs.append(("fingerprint", found.fingerprint))
    if state is not None:
        pairs.extend(_state_pairs(state))
    print_kv(pairs)
    features = spec.get("features")
    if isinstance(features, list) and features and "dtype" in features[0]:
        print_table(
            ["feature", "dtype", "description"],
            [(f.get("name"), f.get("dtype"), f.get("description", "")) for f in features],
            title="features",
        )
    print_table(
        ["version", "created by", "created", "change"],
        [(v.version, v.created_by, v.created_at, v.change) for v in found.versions],
        title="versions",
    )


def _state_pairs(state: ViewState) -> list[tuple[str, object]]:
    """What is online for a view: watermark, last run, last push and freshness."""
    if state.last_run_status:
        run = f"{state.last_run_status} at {state.last_run_at}, {state.last_run_rows} rows"
        run += f": {state.last_run_error}" if state.last_run_error else ""
    else:
        run = "never materialized"
    if state.age_s is None:
        fresh = "nothing online"
    else:
        fresh = f"newest event {state.freshest_event} ({timedelta(seconds=round(state.age_s))} old"
        if state.max_age_s is not None:
            limit = timedelta(seconds=round(state.max_age_s))
            fresh += f"; limit {limit}: {'BREACHED' if state.breached else 'ok'}"
        fresh += ")"
    pushed = f"{state.pushed_rows} rows, last at {state.last_push_at}" if state.pushed_rows else "-"
    return [
        ("watermark", state.watermark or "-"),
        ("last run", run),
        ("pushed", pushed),
        ("freshness", fresh),
    ]


@app.command("add-source")
def add_source_command(
    name: Annotated[str, typer.Argument(help="The source's name.")],
    query: Annotated[str, typer.Option(help="The SELECT that gives the source's rows.")],
    timestamp_field: Annotated[str, typer.Option(help="The column with each row's event time.")],
    created_timestamp_field: Annotated[
        str | None,
        typer.Option(help="The column with the time each row was written.", show_default=False),
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option(
            help="A SQLAlchemy URL to run the query on (default: DuckDB, which reads files). "
            "Write a password as ${ENV_VAR}.",
            show_default=False,
        ),
    ] = None,
    check_sources: CheckSourcesOpt = True,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Define a SQL source by name, without a definitions file.

    The query is run here without reading rows to check the timestamp columns, then the
    source is stored in the registry as a new version (nothing is written if it is
    unchanged). Views use it with `client.get_source(NAME)`.
    """
    with open_client(project) as client:
        found = client.add_sql_source(
            name,
            query,
            timestamp_field,
            created_timestamp_field=created_timestamp_field,
            connection=connection,
            check_source=check_sources,
        )
    if json:
        print_json(found)
    else:
        out_console().print(f"source {found.name!r} is at version {found.latest_version}")


for _module in (feature_data, feature_materialize, feature_serve, feature_skew):
    _module.register(app)
