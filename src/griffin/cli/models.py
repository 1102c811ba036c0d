"""``griffin models``: registered models, versions, aliases, promotion and lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from griffin.cli.output import (
    format_time,
    print_json,
    print_kv,
    print_note,
    print_table,
    to_jsonable,
)
from griffin.cli.state import JsonOpt, ProjectOpt, open_client
from griffin.domain.registry import AliasChange, ModelVersion, parse_model_ref

app = typer.Typer(
    help="The model registry: registered models, their versions and aliases, promotion "
    "gates and lineage; model definitions (`griffin models apply`).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
alias_app = typer.Typer(
    help="Set, delete and show the history of aliases (champion, challenger, ...).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(alias_app, name="alias")

NameArg = Annotated[str, typer.Argument(help="The registered model's name.")]
RefArg = Annotated[
    str,
    typer.Argument(help="A version: NAME@ALIAS, NAME@latest or NAME/VERSION (e.g. eta/3)."),
]
AliasArg = Annotated[str, typer.Argument(help="The alias, e.g. champion.")]
VersionArg = Annotated[str, typer.Argument(help="The version number (or NAME/VERSION).")]


def _version_arg(value: str) -> int | str:
    return int(value) if value.isdigit() else value


@app.command("list")
def list_command(
    prefix: Annotated[
        str | None,
        typer.Option(help="Only models whose name starts with this.", show_default=False),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List registered models: newest version and aliases."""
    with open_client(project) as client:
        found = client.list_registered_models(prefix=prefix, limit=limit)
    if json:
        print_json(found)
        return
    print_table(
        ["name", "latest", "aliases", "updated", "description"],
        [
            (
                m.name,
                m.latest_version or "",
                ", ".join(f"{a}→{v}" for a, v in m.aliases.items()),
                m.updated_at,
                m.description.splitlines()[0] if m.description else "",
            )
            for m in found
        ],
        empty="no registered models yet: `griffin train` or client.log_model(...) registers one",
        optional=["description", "updated"],
    )


@app.command("show")
def show_command(name: NameArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Show a registered model, its aliases and its newest versions."""
    with open_client(project) as client:
        model = client.get_registered_model(name)
        recent = client.list_model_versions(name, limit=10)
    if json:
        print_json({"model": model, "versions": recent})
        return
    print_kv(
        [
            ("name", model.name),
            ("project", model.project),
            ("latest version", model.latest_version or "none"),
            ("aliases", ", ".join(f"{a} → v{v}" for a, v in model.aliases.items()) or "none"),
            ("tags", ", ".join(f"{k}={v}" for k, v in model.tags.items())),
            ("description", model.description),
            ("created", f"{format_time(model.created_at)} by {model.created_by}"),
        ]
    )
    _versions_table(recent, title="newest versions")


def _versions_table(found: list[ModelVersion], *, title: str | None = None) -> None:
    print_table(
        ["version", "aliases", "flavor", "metrics", "created", "by"],
        [
            (
                v.version,
                ", ".join(v.aliases),
                v.flavor,
                ", ".join(f"{k}={val:.4g}" for k, val in sorted(v.metrics.items())[:6]),
                v.created_at,
                v.created_by,
            )
            for v in found
        ],
        title=title,
        empty="no versions yet",
        optional=["by", "created", "metrics"],
    )


@app.command("versions")
def versions_command(
    name: NameArg,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """List a model's versions, newest first."""
    with open_client(project) as client:
        found = client.list_model_versions(name, limit=limit)
    if json:
        print_json(found)
        return
    _versions_table(found)


@app.command("version")
def version_command(ref: RefArg, project: ProjectOpt = None, json: JsonOpt = False) -> None:
    """Show one version: files, flavor, signature, metrics and lineage."""
    with open_client(project) as client:
        found = client.resolve_model(ref)
    if json:
        print_json(found)
        return
    signature = found.signature or {}
    inputs = ", ".join(f"{c['name']}:{c['type']}" for c in signature.get("inputs", []))
    print_kv(
        [
            ("model", found.name),
            ("version", found.version),
            ("aliases", ", ".join(found.aliases) or "none"),
            ("flavor", found.flavor),
            ("source", found.source),
            ("inputs", inputs),
            ("metrics", ", ".join(f"{k}={v:.6g}" for k, v in sorted(found.metrics.items()))),
            ("params", ", ".join(f"{k}={v}" for k, v in sorted(found.params.items()))),
            ("tags", ", ".join(f"{k}={v}" for k, v in sorted(found.tags.items()))),
            ("description", found.description),
            ("created", f"{format_time(found.created_at)} by {found.created_by}"),
        ]
    )
    _lineage_kv(found)


def _lineage_kv(found: ModelVersion) -> None:
    lineage = found.lineage

    def at(name: str | None, version: int | None) -> str:
        if name is None:
            return ""
        return name if version is None else f"{name} v{version}"

    features = "; ".join(
        f"{f.view}{'' if f.version is None else f' v{f.version}'}"
        + (f": {', '.join(f.features)}" if f.features else "")
        for f in lineage.features
    )
    print_kv(
        [
            ("job", lineage.job_id or ""),
            ("run", lineage.run_id or found.run_id or ""),
            ("dataset", at(lineage.dataset, lineage.dataset_version)),
            ("feature service", at(lineage.feature_service, lineage.feature_service_version)),
            ("features", features),
            ("model definition", at(lineage.model_definition, lineage.model_definition_version)),
            ("code digest", lineage.code_digest or ""),
            ("git commit", lineage.git_commit or ""),
            ("runtime", lineage.runtime or ""),
        ],
        title="lineage",
    )


@app.command("lineage")
def lineage_command(
    ref: Annotated[
        str | None,
        typer.Argument(help="A version (NAME@ALIAS, NAME/VERSION): what it was trained on."),
    ] = None,
    feature_view: Annotated[
        str | None,
        typer.Option(
            help="Instead: which model versions used this feature view.", show_default=False
        ),
    ] = None,
    view_version: Annotated[
        int | None,
        typer.Option(help="With --feature-view: only this version of the view.", min=1),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Lineage both ways: what a version was trained on, or who used a feature view."""
    if (ref is None) == (feature_view is None):
        raise typer.BadParameter("give a version (NAME@ALIAS or NAME/N) or --feature-view VIEW")
    with open_client(project) as client:
        if ref is not None:
            found = client.resolve_model(ref)
            if json:
                print_json(
                    {"name": found.name, "version": found.version, **found.lineage.to_json()}
                )
                return
            print_note(f"{found.name} v{found.version}")
            _lineage_kv(found)
            return
        assert feature_view is not None
        uses = client.model_versions_using_view(feature_view, view_version=view_version)
    if json:
        print_json(uses)
        return
    print_table(
        ["model", "version", "view", "view version"],
        [(u["model"], u["version"], u["view"], u["view_version"] or "?") for u in uses],
        empty=f"no registered model version used feature view {feature_view!r}",
    )


@app.command("promote")
def promote_command(
    name: NameArg,
    version: VersionArg,
    alias: Annotated[str, typer.Option(help="The alias to point at the version.")] = "champion",
    require: Annotated[
        list[str] | None,
        typer.Option(
            help='A gate on the version\'s metrics, e.g. "auc>=0.85" (repeatable); the '
            "promotion is refused when one fails.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Point an alias (default champion) at a version, if every --require gate holds."""
    with open_client(project) as client:
        change = client.promote_model(name, _version_arg(version), alias, require=require)
    _print_change(change, json)


def _print_change(change: AliasChange, json: bool) -> None:
    if json:
        print_json(change)
        return
    if not change.changed:
        print_note(f"{change.name}@{change.alias} already points at version {change.to_version}")
    elif change.to_version is None:
        print_note(f"deleted {change.name}@{change.alias} (was version {change.from_version})")
    elif change.from_version is None:
        print_note(f"{change.name}@{change.alias} → version {change.to_version}")
    else:
        print_note(
            f"{change.name}@{change.alias}: version {change.from_version} → {change.to_version}"
        )


@alias_app.command("set")
def alias_set_command(
    name: NameArg,
    alias: AliasArg,
    version: VersionArg,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Point an alias at a version (create it or move it)."""
    with open_client(project) as client:
        change = client.set_model_alias(name, alias, _version_arg(version))
    _print_change(change, json)


@alias_app.command("delete")
def alias_delete_command(
    name: NameArg, alias: AliasArg, project: ProjectOpt = None, json: JsonOpt = False
) -> None:
    """Remove an alias (the change is kept in its history)."""
    with open_client(project) as client:
        change = client.delete_model_alias(name, alias)
    _print_change(change, json)


@alias_app.command("history")
def alias_history_command(
    name: NameArg,
    alias: Annotated[
        str | None, typer.Option(help="Only this alias's changes.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many changes.", min=1, max=1000)] = 100,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show who set, moved or deleted a model's aliases, newest first."""
    with open_client(project) as client:
        events = client.model_alias_history(name, alias, limit=limit)
    if json:
        print_json([{**to_jsonable(e), "action": e.action} for e in events])
        return
    print_table(
        ["when", "alias", "change", "from", "to", "by"],
        [(e.at, e.alias, e.action, e.from_version, e.to_version, e.user) for e in events],
        empty=f"no alias changes for {name!r}",
    )


@app.command("download")
def download_command(
    ref: RefArg,
    dest: Annotated[
        Path | None,
        typer.Option(
            help="Folder to write the model to (default: the local model cache).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Download a version's model files (checked against their sha256)."""
    parse_model_ref(ref)
    with open_client(project) as client:
        folder = client.download_model(ref, dest)
    if json:
        print_json({"ref": ref, "path": str(folder)})
    else:
        print(folder)
