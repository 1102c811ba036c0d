"""``griffin runtimes``: the standard, pinned environments models train and serve in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from griffin.cli.output import print_json, print_kv, print_note, print_table, to_jsonable
from griffin.cli.state import JsonOpt

if TYPE_CHECKING:
    from griffin.training.runtimes import EnvironmentReport, Runtime

app = typer.Typer(
    help="List and show the standard runtimes: named, pinned environments with a Dockerfile.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

DirOpt = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="Project folder whose runtimes.toml adds or replaces runtimes (default: the "
        "current folder).",
        show_default=False,
    ),
]


def _runtime_json(runtime: Runtime) -> dict[str, Any]:
    data: dict[str, Any] = to_jsonable(runtime)
    data["indexes"] = dict(runtime.indexes)
    data["image"] = runtime.image
    return data


@app.command("list")
def list_command(directory: DirOpt = None, json: JsonOpt = False) -> None:
    """List the runtimes: the built-ins and those of the project's runtimes.toml."""
    from griffin.training.runtimes import list_runtimes

    runtimes = list_runtimes(Path() if directory is None else directory)
    if json:
        print_json([_runtime_json(r) for r in runtimes])
        return
    print_table(
        ["name", "python", "gpu", "packages", "source", "description"],
        [
            (
                r.name,
                r.python,
                "yes" if r.gpu else "no",
                ", ".join(p for p in r.packages if not p.startswith("griffin-ml")),
                r.source,
                r.description,
            )
            for r in runtimes
        ],
        optional=["description", "source"],
    )


def _print_report(report: EnvironmentReport) -> None:
    rows: list[tuple[str, str, str, str]] = [
        (
            "python",
            report.python_required,
            report.python_installed,
            "ok" if report.python_ok else "WRONG VERSION",
        )
    ]
    for check in report.packages:
        installed = check.installed or "-"
        if check.provided_by:
            installed += f" ({check.provided_by})"
        if check.satisfied:
            status = "ok"
        else:
            status = "MISSING" if check.installed is None else "WRONG VERSION"
        name = check.name if check.via is None else f"{check.name} (for {check.via})"
        rows.append((name, check.required, installed, status))
    print_table(
        ["package", "required", "installed", "status"], rows, title=f"check of {report.runtime}"
    )
    print_note(report.summary())


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="The runtime's name, e.g. sklearn-1.")],
    dockerfile: Annotated[
        bool, typer.Option("--dockerfile", help="Print the runtime's Dockerfile.")
    ] = False,
    requirements: Annotated[
        bool, typer.Option("--requirements", help="Print its pins as a requirements.txt.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Check that the current environment satisfies it; exit 1 when it does not.",
        ),
    ] = False,
    directory: DirOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show one runtime: its Python version, pins and package indexes.

    `--dockerfile` and `--requirements` print just that file (redirect it to save it);
    `--check` compares the running environment with the runtime, package by package.
    """
    from griffin.training import runtimes as service

    if sum((dockerfile, requirements, check)) > 1 and not json:
        raise typer.BadParameter(
            "give one of --dockerfile, --requirements or --check (or all with --json)"
        )
    runtime = service.get_runtime(name, Path() if directory is None else directory)
    report = service.check_environment(runtime) if check else None
    if json:
        data = _runtime_json(runtime)
        if dockerfile:
            data["dockerfile"] = service.dockerfile(runtime)
        if requirements:
            data["requirements"] = service.requirements_txt(runtime)
        if report is not None:
            data["check"] = {
                **to_jsonable(report),
                "ok": report.ok,
                "missing": [p.name for p in report.missing],
                "fix": report.fix_command(),
            }
        print_json(data)
    elif dockerfile:
        sys.stdout.write(service.dockerfile(runtime))
    elif requirements:
        sys.stdout.write(service.requirements_txt(runtime))
    elif report is not None:
        _print_report(report)
    else:
        _print_runtime(runtime)
    if report is not None and not report.ok:
        raise typer.Exit(1)


def _print_runtime(runtime: Runtime) -> None:
    print_kv(
        [
            ("name", runtime.name),
            ("description", runtime.description),
            ("python", runtime.python),
            ("gpu", "yes" if runtime.gpu else "no"),
            ("base image", runtime.image),
            ("source", runtime.source),
            ("notes", runtime.notes),
        ]
    )
    print_table(
        ["package", "index"],
        [(p, runtime.index_for(p) or "PyPI") for p in runtime.packages],
        title="packages",
    )
