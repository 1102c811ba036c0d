"""The everyday commands: ``griffin train``, ``griffin evaluate`` and ``griffin models compare``.

``griffin train`` applies the project's model definitions (with their code), submits a
training job and follows it. With a server (``GRIFFIN_URL``) the server's dispatcher or a
``griffin worker`` runs the job; on the embedded store the command runs a dispatcher itself,
in the foreground, until the job has ended.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from griffin.cli.output import err_console, print_json, print_kv, print_note, print_table
from griffin.cli.state import JsonOpt, ProjectOpt, current_state, open_client
from griffin.errors import InvalidArgument

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.domain.jobs import Job

__all__ = ["register"]

RefArg = Annotated[
    str, typer.Argument(help="The version: NAME@ALIAS, NAME@latest or NAME/VERSION.")
]


def evaluate_command(
    ref: RefArg,
    dataset: Annotated[
        str, typer.Option(help="A saved dataset's name (griffin features datasets list).")
    ],
    dataset_version: Annotated[
        int | None,
        typer.Option(help="The dataset's version (default: the newest).", min=1),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="The label column (default: the target the version was trained for).",
            show_default=False,
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help="classification or regression (default: the version's, else inferred).",
            show_default=False,
        ),
    ] = None,
    store: Annotated[
        bool,
        typer.Option(
            "--store/--no-store",
            help="Store the metrics against the version (where promotion gates read them) "
            "and in a tracked run.",
        ),
    ] = True,
    backend: BackendOpt = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Compute standard metrics of a model version on a saved dataset (here, or as a job).

    Classification: auc, log_loss, accuracy; regression: rmse, mae, r2. Follow with
    `griffin models promote NAME VERSION --require "auc>=0.85"`.
    """
    if backend is not None:
        from griffin.domain.registry import parse_model_ref

        with open_client(project) as client:
            final = _run_as_job(
                client,
                json,
                kind="evaluate",
                model=parse_model_ref(ref)[0],
                backend=backend,
                data={"dataset": dataset, "version": dataset_version},
                params={"ref": ref, "target": target, "task": task, "store": store},
            )
        if json:
            print_json(final.result)
        else:
            found = final.result or {}
            print_note(f"{found.get('model')} v{found.get('version')}: job {final.id}")
            print_table(["metric", "value"], sorted((found.get("metrics") or {}).items()))
        return
    with open_client(project) as client:
        result = client.evaluate_model(
            ref,
            dataset=dataset,
            dataset_version=dataset_version,
            target=target,
            task=task,
            store=store,
        )
    if json:
        print_json(result)
        return
    print_kv(
        [
            ("model", f"{result.name} v{result.version}"),
            ("dataset", f"{result.dataset} v{result.dataset_version}"),
            ("rows", result.rows),
            ("task", result.task),
            ("target", result.target),
            ("stored", "yes" if store else "no (--no-store)"),
        ]
    )
    print_table(
        ["metric", "value", "before"],
        [(k, v, result.previous.get(k)) for k, v in sorted(result.metrics.items())],
        title="metrics",
    )


def compare_command(
    a: Annotated[str, typer.Argument(help="The first version (NAME@ALIAS or NAME/N).")],
    b: Annotated[str, typer.Argument(help="The second version.")],
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Two versions side by side: metrics (with the difference), params and lineage."""
    with open_client(project) as client:
        found = client.compare_models(a, b)
    if json:
        print_json(found)
        return
    first, second = found["a"], found["b"]
    columns = [
        "",
        f"{first['name']} v{first['version']}",
        f"{second['name']} v{second['version']}",
    ]
    print_table(
        [*columns, "diff"],
        [("flavor", first["flavor"], second["flavor"], "")]
        + [(k, m["a"], m["b"], m["diff"]) for k, m in found["metrics"].items()],
        title="metrics",
    )
    print_table(
        columns,
        [(k, p["a"], p["b"]) for k, p in found["params"].items()],
        title="params",
        empty="no params",
    )
    print_table(
        columns,
        [(k, v["a"], v["b"]) for k, v in found["lineage"].items()],
        title="lineage (fields that differ)",
        empty="same lineage",
    )


def _param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise typer.BadParameter(f"{text!r}: write --param NAME=VALUE")
    return key.strip(), value


def _pick_model(names: list[str], wanted: str | None, path: Path) -> str:
    if wanted is not None:
        if wanted not in names:
            known = ", ".join(names) or "none"
            raise InvalidArgument(f"{path} defines no model {wanted!r} (it defines: {known})")
        return wanted
    if len(names) != 1:
        raise InvalidArgument(
            f"{path} defines {len(names)} models ({', '.join(names) or 'none'}): name the one "
            "to train, e.g. `griffin train " + (names[0] if names else "MODEL") + "`"
        )
    return names[0]


def train_command(
    model: Annotated[
        str | None,
        typer.Argument(help="The model definition to train (default: the project's only one)."),
    ] = None,
    path: Annotated[
        Path, typer.Option(help="The project folder (or its model.py).", show_default=True)
    ] = Path("."),
    dataset: Annotated[
        str | None, typer.Option(help="Train on this saved dataset.", show_default=False)
    ] = None,
    dataset_version: Annotated[
        int | None, typer.Option(help="The dataset's version (default: newest).", min=1)
    ] = None,
    entity_rows: Annotated[
        str | None,
        typer.Option(
            help="Or build the data: entity rows (a parquet path in the project, or SQL) "
            "joined with the definition's feature service.",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="With --entity-rows: only rows at or after this time (ISO 8601).",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(help="With --entity-rows: only rows before this time.", show_default=False),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="Override a parameter: NAME=VALUE (repeatable).", show_default=False),
    ] = None,
    backend: Annotated[str, typer.Option(help="Where the job runs: local, ray.")] = "local",
    cpus: Annotated[float, typer.Option(help="CPU cores for the job.", min=0.01)] = 1.0,
    memory: Annotated[
        str | None, typer.Option(help="Memory for the job, e.g. 4Gi.", show_default=False)
    ] = None,
    gpus: Annotated[int, typer.Option(help="GPUs for the job.", min=0)] = 0,
    workers: Annotated[
        int, typer.Option(help="Workers for distributed training (Ray backend).", min=1)
    ] = 1,
    timeout: Annotated[
        int | None,
        typer.Option(help="Stop the job (TIMED_OUT) after this many seconds.", min=1),
    ] = None,
    retries: Annotated[
        int, typer.Option(help="Retries after infrastructure failures.", min=0, max=10)
    ] = 0,
    experiment: Annotated[
        str | None,
        typer.Option(
            help="Experiment of the job's run (default: 'train MODEL').", show_default=False
        ),
    ] = None,
    sweep: Annotated[
        Path | None,
        typer.Option(
            help="Run a hyper-parameter sweep described in this YAML or JSON file: one "
            "training job per trial, and the best by its metric.",
            show_default=False,
        ),
    ] = None,
    detach: Annotated[
        bool,
        typer.Option("--detach", help="Submit and return at once (needs a server or a worker)."),
    ] = False,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Train a model: apply the project's model definitions, submit a job, follow it.

    The job fetches the code that was just applied, builds or loads the training data, calls
    the definition's train(ctx), and registers the returned model as a new version with its
    lineage. Ctrl-C cancels the job.
    """
    if dataset is not None and entity_rows is not None:
        raise typer.BadParameter("give --dataset or --entity-rows, not both")
    overrides = dict(_param(p) for p in param or [])
    _prestart_job_process(backend, detach)
    with open_client(project) as client:
        plan = client.apply_models(path)
        names = [i.name for i in plan.items if i.action != "not_in_definitions"]
        chosen = _pick_model(names, model, path)
        item = next(i for i in plan.items if i.name == chosen)
        version = item.new_version or item.version
        data: dict[str, Any] = {}
        if dataset is not None:
            data = {"dataset": dataset, "version": dataset_version}
        elif entity_rows is not None:
            data = {"entity_rows": entity_rows, "start": start, "end": end}
        if not json:
            print_note(
                f"applied {chosen} v{version} (code {plan.code_digest[:12]}); submitting a "
                f"{backend} {'sweep' if sweep is not None else 'training job'}"
            )
        extra: dict[str, Any] = {}
        if sweep is not None:
            extra = {"kind": "sweep", "sweep": _read_sweep(sweep)}
        job = client.submit_job(
            **extra,
            model=chosen,
            definition_version=version,
            code_digest=plan.code_digest,
            data=data,
            params=overrides,
            backend=backend,
            resources={"cpus": cpus, "memory": memory, "gpus": gpus, "workers": workers},
            timeout_s=timeout,
            retries=retries,
            experiment=experiment,
        )
        if detach:
            _print_job(job, json, detached=True)
            return
        final = _follow(client, job, quiet=json)
    _print_job(final, json)
    if str(final.status) != "SUCCEEDED":
        raise typer.Exit(1)


def _prestart_job_process(backend: str, detach: bool) -> None:
    """On the embedded store, the job runs here: start its interpreter now, so it imports
    Griffin and the usual packages while this command applies the definitions."""
    settings = current_state().settings()
    if backend == "local" and not detach and not settings.url:
        from griffin.launcher import prestart

        prestart.ensure(settings, os.environ)


def _read_sweep(path: Path) -> Any:
    """A sweep file: YAML (``.yaml``/``.yml``) or JSON."""
    import json as json_module

    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read the sweep file {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".json":
            return json_module.loads(text)
        return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidArgument(f"the sweep file {path} is not valid: {exc}") from None


def _follow(client: Client, job: Job, *, quiet: bool) -> Job:
    """Stream the job's log until it ends; run a dispatcher here on the embedded store."""
    from griffin.client.transport import InProcessTransport

    transport = client._transport
    if not isinstance(transport, InProcessTransport):
        return _stream(client, job, quiet=quiet, errors=[])
    from griffin.server.loopback import LoopbackServer
    from griffin.training.dispatcher import Dispatcher

    errors: list[BaseException] = []
    # The job reaches this process's store over a loopback port: its own client stays light.
    with LoopbackServer(transport.platform) as api:
        # One job in the foreground: poll often, the cost is a few small queries.
        dispatcher = Dispatcher(
            transport.platform, backends=(job.spec.backend,), poll_interval=0.1, api_url=api.url
        )

        def run() -> None:
            try:
                dispatcher.run_until_done(job.id)
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        runner = threading.Thread(target=run, name="griffin-train", daemon=True)
        runner.start()
        try:
            final = _stream(client, job, quiet=quiet, errors=errors)
        finally:
            runner.join(timeout=60)
    if errors:  # the dispatcher's own failure (a Griffin error prints as one line)
        raise errors[0]
    return final


def _stream(client: Client, job: Job, *, quiet: bool, errors: list[BaseException]) -> Job:
    """Print the job's log as it grows until it ends (Ctrl-C cancels it); the job at its end."""
    try:
        for text in client.follow_logs(job.id, poll=0.2):
            if not quiet:
                sys.stdout.write(text)
                sys.stdout.flush()
            if errors:
                break
    except KeyboardInterrupt:
        err_console().print(f"cancelling job {job.id} ...")
        client.cancel_job(job.id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not client.get_job(job.id).status.is_terminal:
            time.sleep(0.2)
    return client.get_job(job.id)


def _print_job(job: Job, json: bool, *, detached: bool = False) -> None:
    result = job.result or {}
    if json:
        print_json(job)
        return
    if detached:
        print_note(f"submitted job {job.id}: `griffin jobs logs {job.id} -f` follows it")
        print(job.id)
        return
    rows: list[tuple[str, Any]] = [("job", job.id), ("status", str(job.status))]
    if job.status_reason:
        rows.append(("reason", job.status_reason))
    if result.get("model") is not None:
        rows.append(("model", f"{result['model']} version {result.get('version')}"))
    if result.get("run_id"):
        rows.append(("run", result["run_id"]))
    if "best_trial" in result:
        rows.append(
            (
                "best",
                f"trial {result['best_trial']} of {result.get('trials')}: "
                f"{result.get('metric')}={result.get('value')} (job {result.get('best_job')})",
            )
        )
    print_kv(rows)


BackendOpt = Annotated[
    str | None,
    typer.Option(
        help="Run it as a job on this launcher (local, ray) instead of in this process.",
        show_default=False,
    ),
]


def _run_as_job(client: Client, json: bool, **fields: Any) -> Job:
    """Submit an evaluate/predict job and follow it to its end (exit 1 unless it succeeded)."""
    job = client.submit_job(**fields)
    if not json:
        print_note(f"submitted {fields['kind']} job {job.id} ({fields.get('backend')})")
    final = _follow(client, job, quiet=json)
    if str(final.status) != "SUCCEEDED":
        _print_job(final, json)
        raise typer.Exit(1)
    return final


def predict_command(
    ref: RefArg,
    input: Annotated[
        Path, typer.Option(help="Rows to predict: a .parquet, .csv, .json or .jsonl file.")
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the rows with their predictions here (.parquet, .csv or .jsonl); "
            "default: print them.",
            show_default=False,
        ),
    ] = None,
    online_features: Annotated[
        bool | None,
        typer.Option(
            "--online-features/--no-online-features",
            help="Read the version's feature service from the online store for the rows' "
            "entity keys (default: only when the rows lack the model's inputs).",
            show_default=False,
        ),
    ] = None,
    backend: BackendOpt = None,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Predict a batch of rows with a registered version (in this process, or as a job).

    The rows hold the model's input columns, or just entity keys when the version was
    trained on a feature service: the features are then read from the online store.
    """
    from griffin.domain.registry import parse_model_ref
    from griffin.training.batch import check_output, read_rows, write_rows

    if backend is not None:
        if output is None:
            raise typer.BadParameter("--backend needs --output: the job writes the predictions")
        check_output(output)
        if not input.is_file():
            raise InvalidArgument(f"no such file: {input}", details={"field": "input"})
        with open_client(project) as client:
            final = _run_as_job(
                client,
                json,
                kind="predict",
                model=parse_model_ref(ref)[0],
                backend=backend,
                data={"entity_rows": str(input.resolve())},
                params={
                    "ref": ref,
                    "output": str(output.resolve()),
                    "online_features": online_features,
                },
            )
        result_info = final.result or {}
        if json:
            print_json({"ref": ref, "rows": result_info.get("rows"), "output": str(output)})
        else:
            print_note(f"wrote {result_info.get('rows')} predictions to {output} (job {final.id})")
        return
    rows = read_rows(input)
    with open_client(project) as client:
        result = client.predict(ref, rows, online_features=online_features)
    if output is not None:
        write_rows(result, output)
        if json:
            print_json({"ref": ref, "rows": len(result), "output": str(output)})
        else:
            print_note(f"wrote {len(result)} predictions to {output}")
        return
    if json:
        print_json(result.to_dict(orient="records"))
        return
    print_table(list(map(str, result.columns)), result.itertuples(index=False))


def register(root: typer.Typer, models: typer.Typer) -> None:
    """Add ``griffin train`` and ``griffin evaluate`` to the root and ``griffin models
    compare``."""
    root.command("train")(train_command)
    root.command("evaluate")(evaluate_command)
    root.command("predict")(predict_command)
    models.command("compare")(compare_command)
