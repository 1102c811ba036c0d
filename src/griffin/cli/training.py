"""The everyday commands: ``griffin train``, ``griffin evaluate``, ``griffin predict`` and
``griffin models compare``.

``griffin train`` applies the project's model definitions (with their code), submits a
training job and follows it; ``griffin predict --output`` submits a predict job (batch
inference) and follows it. With a server (``GRIFFIN_URL``) the server's dispatcher or a
``griffin worker`` runs the job; on the embedded store the command runs a dispatcher itself,
in the foreground, until the job has ended.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from griffin.cli.output import (
    err_console,
    print_error,
    print_json,
    print_kv,
    print_note,
    print_table,
)
from griffin.cli.state import JsonOpt, ProjectOpt, current_state, open_client
from griffin.errors import InvalidArgument
from griffin.training.batch_predict import DEFAULT_CHUNK_SIZE

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


def _follow(
    client: Client, job: Job, *, quiet: bool, on_text: Callable[[str], None] | None = None
) -> Job:
    """Stream the job's log until it ends (to ``on_text``, else standard output); run a
    dispatcher here on the embedded store."""
    from griffin.client.transport import InProcessTransport

    transport = client._transport
    if not isinstance(transport, InProcessTransport):
        return _stream(client, job, quiet=quiet, errors=[], on_text=on_text)
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
            final = _stream(client, job, quiet=quiet, errors=errors, on_text=on_text)
        finally:
            runner.join(timeout=60)
    if errors:  # the dispatcher's own failure (a Griffin error prints as one line)
        raise errors[0]
    return final


def _stream(
    client: Client,
    job: Job,
    *,
    quiet: bool,
    errors: list[BaseException],
    on_text: Callable[[str], None] | None = None,
) -> Job:
    """Print the job's log as it grows until it ends (Ctrl-C cancels it); the job at its end."""
    try:
        for text in client.follow_logs(job.id, poll=0.2):
            if quiet:
                pass
            elif on_text is not None:
                on_text(text)
            else:
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


class _PredictLog:
    """A predict job's log on standard error, its progress lines drawn as a bar (on a
    terminal); the same bar for a prediction in this process."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.console = err_console()
        self.display: Any = None
        self.task: Any = None
        self.pending = ""

    def __enter__(self) -> _PredictLog:
        if self.enabled and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.display = Progress(
                TextColumn("predicting"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = ""
        if self.display is not None:
            self.display.stop()

    def progress(self, done: int, total: int) -> None:
        if self.display is None:
            return
        if self.task is None:
            self.task = self.display.add_task("predicting", total=total)
        self.display.update(self.task, completed=done, total=total)

    def feed(self, text: str) -> None:
        """Some bytes of the job's log: whole lines are shown, a partial one waits."""
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        from griffin.training.batch_predict import parse_progress

        found = parse_progress(line)
        if found is not None and self.display is not None:
            self.progress(*found)
        elif line.strip() and self.enabled:
            self.console.print(line, markup=False, highlight=False)


def predict_command(
    ref: RefArg,
    entities: Annotated[
        str | None,
        typer.Option(
            help="The rows to predict: a .parquet, .csv, .json or .jsonl file, a folder of "
            "parquet files, or a SQL query (SELECT ... or WITH ..., run by DuckDB).",
            show_default=False,
        ),
    ] = None,
    input: Annotated[
        str | None,
        typer.Option(help="The older name of --entities (kept for scripts).", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the rows with their predictions here (.parquet, .csv or .jsonl), as a "
            "recorded predict job; default: predict here and print them.",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Read every row's features as of this time (ISO 8601, UTC unless it says "
            "otherwise); default: each row's event_timestamp, else now.",
            show_default=False,
        ),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option(help="Rows predicted (and written) at a time.", min=1)
    ] = DEFAULT_CHUNK_SIZE,
    online_features: Annotated[
        bool | None,
        typer.Option(
            "--online-features/--no-online-features",
            help="Read the features from the online store (the newest values, as `griffin "
            "serve` does) / never read features: the rows hold the inputs (default: from the "
            "offline sources, point-in-time, when the rows lack the inputs).",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            help="The launcher that runs the job (local, ray; default local). On ray the "
            "predictions run on Ray Data workers.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(help="Ray Data workers predicting at once (ray backend).", min=1)
    ] = 1,
    project: ProjectOpt = None,
    json: JsonOpt = False,
) -> None:
    """Predict a batch of rows with a registered version: features point-in-time, in chunks.

    With --output the run is a predict job (`griffin jobs list` shows it): on the embedded
    store it runs here in the foreground; with a server, on its workers. The rows hold the
    model's inputs, or the entity keys of the feature service the version was trained on:
    the features are then joined on as of each row's event_timestamp, as of --as-of, or now.
    """
    from griffin.domain.registry import parse_model_ref
    from griffin.training.batch_inputs import check_entities, parse_as_of
    from griffin.training.batch_output import check_output
    from griffin.training.batch_predict import BatchRequest, predict_rows

    if entities is not None and input is not None:
        raise typer.BadParameter("give --entities or its older name --input, not both")
    source = entities if entities is not None else input
    if source is None:
        raise typer.BadParameter("give the rows to predict: --entities PATH or a SQL query")
    source = check_entities(source)
    moment = parse_as_of(as_of)
    if output is None:
        if backend is not None:
            raise typer.BadParameter("--backend needs --output: the job writes the predictions")
        request = BatchRequest(
            ref=ref,
            entities=source,
            as_of=moment,
            chunk_size=chunk_size,
            online_features=online_features,
        )
        with open_client(project) as client, _PredictLog(not json) as log:
            _, table = predict_rows(client, request, progress=log.progress)
        frame = table.to_pandas()
        if json:
            print_json(frame.to_dict(orient="records"))
            return
        print_table(list(map(str, frame.columns)), frame.itertuples(index=False))
        return
    check_output(output)
    chosen = backend or "local"
    _prestart_job_process(chosen, detach=False)
    with open_client(project) as client:
        job = client.submit_job(
            kind="predict",
            model=parse_model_ref(ref)[0],
            backend=chosen,
            data={"entity_rows": source},
            params={
                "ref": ref,
                "output": str(output.resolve()),
                "as_of": None if moment is None else moment.isoformat(),
                "chunk_size": chunk_size,
                "online_features": online_features,
                "cwd": str(Path.cwd()),
            },
            resources={"workers": workers},
        )
        if not json:
            print_note(f"submitted predict job {job.id} ({chosen})")
        with _PredictLog(not json) as log:
            final = _follow(client, job, quiet=json, on_text=log.feed)
    _print_prediction(final, json)


def _print_prediction(job: Job, json: bool) -> None:
    """The job's result (exit 1 with its reason unless it succeeded)."""
    found = job.result or {}
    succeeded = str(job.status) == "SUCCEEDED"
    if json:
        print_json({"job_id": job.id, "status": str(job.status), **found})
    elif not succeeded:
        print_error(f"predict job {job.id} {job.status}: {job.status_reason}")
    else:
        when = {
            "given": "the rows' own columns",
            "point-in-time": "as of each row's event time",
            "as-of": f"as of {found.get('as_of')} (--as-of)",
            "latest": f"the newest, as of {found.get('as_of')}",
            "online": "the online store's newest values",
        }.get(str(found.get("features")), str(found.get("features")))
        print_kv(
            [
                ("job", job.id),
                ("model", f"{found.get('model')} v{found.get('version')}"),
                ("rows", found.get("rows")),
                ("features", when),
                ("output", found.get("output")),
            ]
        )
    if not succeeded:
        raise typer.Exit(1)


def register(root: typer.Typer, models: typer.Typer) -> None:
    """Add ``griffin train``, ``griffin evaluate`` and ``griffin predict`` to the root and
    ``griffin models compare``."""
    root.command("train")(train_command)
    root.command("evaluate")(evaluate_command)
    root.command("predict")(predict_command)
    models.command("compare")(compare_command)
