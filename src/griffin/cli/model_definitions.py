"""``griffin models apply`` and ``griffin models definitions``: the Model Store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from griffin.cli.output import out_console, print_json, print_kv, print_note, print_table
from griffin.cli.state import JsonOpt, ProjectOpt, open_client
from griffin.domain.features import show

if TYPE_CHECKING:
    from griffin.domain.model_definitions import ModelPlan

definitions_app = typer.Typer(
    help="Browse the Model Store: model definitions, their versions and diffs.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

NameArg = Annotated[str, typer.Argument(help="The model definition's name.")]
_LABEL = {
    "create": "create",
    "update": "update",
    "unchanged": "unchanged",
    "not_in_definitions": "not in your definitions (kept)",
}


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _print_plan(plan: ModelPlan) -> None:
    rows = [
        (
            item.name,
            _LABEL[item.action],
            item.new_version if item.new_version is not None else (item.version or ""),
            item.describe() if item.action == "update" else "",
        )
        for item in plan.items
    ]
    print_table(
        ["name", "change", "version", "what changed"],
        rows,
        empty="no model definitions found and none in the Model Store",
    )
    package = plan.package
    if package is not None:
        commit = package.git_commit[:12] or "(not in git)"
        if package.git_commit and package.dirty:
            commit += " + uncommitted changes"
        if package.uploaded:
            state = "uploaded"
        else:
            state = "already stored" if plan.applied else "not uploaded (dry run)"
        print_kv(
            [
                ("package", package.digest),
                ("files", package.files),
                ("size", _size(package.size_bytes)),
                ("git commit", commit),
                ("upload", state),
            ]
        )
    print_note(plan.summary())


def apply_command(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The project folder (its model.py, else every top-level .py) or one .py "
            "file; the folder is packaged. Default: the current folder.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show the plan; upload and write nothing."),
    ] = False,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Register the project's model definitions together with its code package.

    Each definition whose spec or code changed gets a new version; nothing is deleted. The
    package holds the project folder's files minus what .gitignore leaves out.
    """
    with open_client(project) as client:
        plan = client.apply_models(Path() if path is None else path, dry_run=dry_run)
    if json:
        print_json(plan)
        return
    _print_plan(plan)


@definitions_app.command("list")
def list_command(
    query: Annotated[
        str | None,
        typer.Option(
            "--query",
            "-q",
            help="Free text over name, description, owner, tags, runtime and features.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the model definitions at their latest version."""
    with open_client(project) as client:
        found = client.list_model_definitions(query)
    if json:
        print_json(found)
        return
    print_table(
        ["name", "version", "entry", "runtime", "features", "task", "owner", "updated"],
        [
            (
                d.name,
                d.version,
                d.entry,
                d.runtime or "",
                d.features or "",
                d.task or "",
                d.owner,
                d.updated_at,
            )
            for d in found
        ],
        empty="no model definitions: `griffin models apply` registers a project's model.py",
        optional=["updated", "owner", "task", "features"],
    )


@definitions_app.command("show")
def show_command(
    name: NameArg,
    version: Annotated[
        int | None,
        typer.Option(help="A past version (default: the latest).", min=1, show_default=False),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show one model definition at a version, and the history of its versions."""
    with open_client(project) as client:
        found = client.get_model_definition(name, version)
    if json:
        print_json(found)
        return
    print_kv(
        [
            ("name", found.name),
            ("version", f"{found.version} of {found.latest_version}"),
            ("entry", found.entry),
            ("runtime", found.runtime or ""),
            ("features", found.features or ""),
            ("target", found.target or ""),
            ("task", found.task or ""),
            ("params", show(found.params)),
            ("owner", found.owner),
            ("description", found.description),
            ("tags", ", ".join(f"{k}={v}" for k, v in sorted(found.tags.items()))),
            ("code digest", found.code_digest or "(no code)"),
            ("git commit", found.git_commit),
            ("fingerprint", found.fingerprint),
        ]
    )
    print_table(
        ["version", "code", "git commit", "created by", "created", "change"],
        [
            (v.version, v.code_digest[:12], v.git_commit[:12], v.created_by, v.created_at, v.change)
            for v in found.versions
        ],
        title="versions",
    )


@definitions_app.command("diff")
def diff_command(
    name: NameArg,
    from_version: Annotated[
        int | None,
        typer.Option(
            "--from",
            help="The older version (default: the one before --to).",
            min=1,
            show_default=False,
        ),
    ] = None,
    to_version: Annotated[
        int | None,
        typer.Option("--to", help="The newer version (default: the latest).", min=1),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show how two versions of a model definition differ: spec, code and files."""
    with open_client(project) as client:
        found = client.diff_model_definition(name, from_version, to_version)
    if json:
        print_json(found)
        return
    console = out_console()
    console.print(f"{found.name}: version {found.from_version} -> {found.to_version}", markup=False)
    if not found.changes and not found.code_changed:
        console.print("no differences")
        return
    for change in found.changes:
        console.print(f"  {change}", markup=False, soft_wrap=True)
    if found.code_changed:
        old = found.from_code_digest[:12] or "(none)"
        new = found.to_code_digest[:12] or "(none)"
        console.print(f"  code: {old} -> {new}", markup=False)
        if found.files_compared:
            print_table(
                ["file", "change", "old size", "new size"],
                [(f.path, f.op, f.old_size, f.new_size) for f in found.files],
                title="files",
                empty="no file differences",
            )
        else:
            print_note("files not compared: a version has no stored code package")


def register(models_app: typer.Typer) -> None:
    """Add ``apply`` and the ``definitions`` group to ``griffin models``."""
    models_app.command("apply")(apply_command)
    models_app.add_typer(definitions_app, name="definitions")
