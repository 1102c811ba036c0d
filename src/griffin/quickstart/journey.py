"""The quickstart's journey: sample data to predictions over HTTP, one SDK call per step.

Each step is the call a user's own code would make; nothing here reaches past the SDK except
starting the inference server, which is what ``griffin serve`` starts. The steps, in order,
are :data:`~griffin.quickstart.report.STEPS`; an observer hears each begin, advance and end.
The names (``shopper``, ``shopper-churn``) keep clear of the ``griffin init`` templates'
(``customer``, ``churn``), so the quickstart never writes over a project made from one.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from griffin.domain.registry import TARGET_TAG, TASK_TAG
from griffin.errors import AlreadyExists
from griffin.quickstart.report import Observer, Prediction, QuickstartResult, Silent, Step
from griffin.quickstart.sample_data import (
    DAYS,
    FEATURE_SERVICE,
    FEATURE_VIEW,
    JOIN_KEY,
    SHOPPERS,
    TARGET,
    SampleProject,
    write_sample_project,
)
from griffin.quickstart.trainer import EPOCHS, Trainer

if TYPE_CHECKING:
    from griffin.client import Client
    from griffin.config import Settings
    from griffin.domain.datasets import Dataset
    from griffin.domain.registry import ModelVersion

__all__ = ["ALIAS", "DEPLOYMENT", "EXPERIMENT", "MODEL", "run_journey"]

EXPERIMENT = "quickstart"
MODEL = "shopper-churn"
DEPLOYMENT = "shopper-churn"
ALIAS = "champion"
TRAINING_DATASET = "shopper-churn-training"
HOLDOUT_DATASET = "shopper-churn-holdout"
# What the version must score on the holdout set to become champion (it scores about 0.87).
PROMOTION_GATE = "auc>=0.75"
SEED = 42


def run_journey(
    client: Client,
    settings: Settings,
    folder: Path,
    *,
    epochs: int = EPOCHS,
    observer: Observer | None = None,
    command: str = "griffin",
) -> QuickstartResult:
    """Every step in ``client``'s project, with the sample project in ``folder`` (created or
    rewritten).

    ``settings`` are the client's; with ``settings.url`` (a remote server) the serving steps
    are skipped, as this process cannot open that server's database. ``command`` starts the
    CLI commands the result names (``griffin -p PROJECT`` for a project other than the
    default one).
    """
    return _Journey(client, settings, observer or Silent(), command).run(folder, epochs)


class _Journey:
    """The steps, each telling the observer and recording the command that shows it."""

    def __init__(self, client: Client, settings: Settings, seen: Observer, cli: str) -> None:
        self.client = client
        self.settings = settings
        self.seen = seen
        self.cli = cli
        self.steps: list[Step] = []
        self.skipped: dict[str, str] = {}
        self.server_url: str | None = None
        self.prediction_log: str | None = None
        self.predictions: list[Prediction] = []

    def _done(self, step: str, did: str, command: str, shown: str | None = None) -> None:
        """``step`` ended: ``shown`` (default ``did``) to the observer, both to the result."""
        self.steps.append(Step(step, did, command))
        self.seen.end(did if shown is None else shown)

    def run(self, folder: Path, epochs: int) -> QuickstartResult:
        started = time.perf_counter()
        client = self.client
        project = self.write_data(folder)
        self.apply(project)
        self.materialize(project)
        training, holdout = self.build_datasets(project)
        run_id, final, version = self.train_and_register(project, training, epochs)
        evaluation = self.evaluate(version, holdout)
        self.promote(version)
        self.deploy()
        self.serve_and_predict(project.examples)
        tracked = client.get_run(run_id)
        return QuickstartResult(
            project=client.project,
            folder=str(folder),
            experiment=tracked.experiment,
            run_id=tracked.id,
            run_name=tracked.name,
            status=str(tracked.status),
            epochs=epochs,
            final_metrics=final,
            artifacts=[a.path for a in client.list_artifacts(run_id)],
            dataset=TRAINING_DATASET,
            dataset_version=training.version,
            holdout_dataset=HOLDOUT_DATASET,
            holdout_version=holdout.version,
            model=MODEL,
            version=version.version,
            alias=ALIAS,
            evaluation=evaluation,
            deployment=DEPLOYMENT,
            server_url=self.server_url,
            prediction_log=self.prediction_log,
            predictions=self.predictions,
            seconds=round(time.perf_counter() - started, 2),
            command=self.cli,
            skipped=self.skipped,
            steps=self.steps,
        )

    def write_data(self, folder: Path) -> SampleProject:
        self.seen.begin("data")
        project = write_sample_project(folder, datetime.now(UTC), SEED)
        labelled = len(project.training_rows) + len(project.holdout_rows)
        did = f"{SHOPPERS} shoppers x {DAYS} days of activity, {labelled:,} labelled rows"
        self._done("data", did, f"cat {project.features_py}")
        return project

    def apply(self, project: SampleProject) -> None:
        self.seen.begin("apply")
        plan = self.client.apply_features(project.features_py)
        counts = (
            (len(plan.of("create")), "created"),
            (len(plan.of("update")), "updated"),
            (len(plan.of("unchanged")), "unchanged"),
        )
        did = ", ".join(f"{n} {what}" for n, what in counts if n)
        self._done(
            "apply", f"{did}: entity, view, on-demand view, service", f"{self.cli} features list"
        )

    def materialize(self, project: SampleProject) -> None:
        self.seen.begin("materialize")
        result = self.client.materialize([FEATURE_VIEW], definitions=project.features_py)[0]
        keys = ",".join(str(s) for s in project.examples[:2])
        self._done(
            "materialize",
            f"{result.rows} shoppers' newest {FEATURE_VIEW} in the online store",
            f"{self.cli} features get-online -f {FEATURE_VIEW} -e {JOIN_KEY}={keys}",
        )

    def build_datasets(self, project: SampleProject) -> tuple[Dataset, Dataset]:
        """The training and holdout sets, joined point-in-time and saved as new versions."""
        self.seen.begin("dataset")
        saved = []
        for name, rows, what in (
            (TRAINING_DATASET, project.training_rows, "training rows, 8 to 27 days ago"),
            (HOLDOUT_DATASET, project.holdout_rows, "holdout rows, the last 7 days"),
        ):
            joined = self.client.get_training_data(
                rows, FEATURE_SERVICE, definitions=project.features_py
            )
            description = f"griffin quickstart: {what}"
            saved.append(self.client.save_dataset(name, joined, description=description))
        training, holdout = saved
        did = ", ".join(f"{d.name} v{d.version} ({d.row_count:,} rows)" for d in saved)
        self._done("dataset", did, f"{self.cli} features datasets show {TRAINING_DATASET}")
        return training, holdout

    def train_and_register(
        self, project: SampleProject, training: Dataset, epochs: int
    ) -> tuple[str, dict[str, float], ModelVersion]:
        """Train in a tracked run (metrics per epoch), then register the model in that run."""
        from griffin.client.tracking import start_run

        self.seen.begin("train", epochs)
        frame = self.client.load_dataset(training.name, training.version).to_pandas()
        inputs = [c.name for c in training.columns if c.role == "feature"]
        trainer = Trainer(frame[inputs], frame[TARGET], epochs, SEED)
        tags = {
            "griffin.source": "quickstart",
            "framework": "scikit-learn",
            "dataset": f"{training.name}/{training.version}",
            "task": "binary-classification",
        }
        final: dict[str, float] = {}
        name = f"{MODEL}-sgd-{epochs}-epochs"
        with start_run(
            EXPERIMENT, name=name, params=trainer.params(), tags=tags, client=self.client
        ) as run:
            for epoch in range(1, epochs + 1):
                final = trainer.epoch()
                run.log_metrics(final, step=epoch)
                self.seen.advance(epoch, f"val_auc {final['val_auc']:.3f}")
            scores = f"val_auc {final['val_auc']:.3f}, val_accuracy {final['val_accuracy']:.3f}"
            self._done("train", f"run {run.id}: {scores}", f"{self.cli} runs show {run.id}", scores)

            self.seen.begin("register")
            version = self.client.log_model(
                trainer.pipeline(),
                MODEL,
                run_id=run.id,
                input_example=trainer.example,
                metrics=final,
                params=trainer.params(),
                lineage=_lineage(run.id, training, self._upload_code(project.features_py)),
                tags={TARGET_TAG: TARGET, TASK_TAG: "classification"},
                description="Will a shopper churn? Trained by `griffin quickstart`.",
            )
        ref = f"{MODEL}/{version.version}"
        did = f"{ref}, from {training.name} v{training.version} and code {_short(version)}"
        self._done("register", did, f"{self.cli} models lineage {ref}")
        return run.id, final, version

    def _upload_code(self, features_py: Path) -> str:
        """Upload a code package holding ``features.py``; its digest.

        The version's lineage names it, so a server runs the on-demand view with the code
        the model was trained with (``griffin serve`` needs no --definitions). It is built
        from a copy in a fresh folder: the project folder may sit in a git work tree that
        ignores it.
        """
        from griffin.training.packages import FEATURES_FILE, build_package

        with tempfile.TemporaryDirectory(prefix="griffin-quickstart-") as tmp:
            code = Path(tmp) / "code"
            code.mkdir()
            (code / FEATURES_FILE).write_text(features_py.read_text())
            package = build_package(code, Path(tmp) / "package")
            return self.client.upload_package(package.path)

    def evaluate(self, version: ModelVersion, holdout: Dataset) -> dict[str, float]:
        self.seen.begin("evaluate")
        ref = f"{MODEL}/{version.version}"
        evaluation = self.client.evaluate_model(
            ref, dataset=holdout.name, dataset_version=holdout.version
        )
        scores = ", ".join(f"{k} {v:.3f}" for k, v in sorted(evaluation.metrics.items()))
        on = f"{holdout.name} v{holdout.version}"
        self._done("evaluate", f"{scores} on {on}", f"{self.cli} models version {ref}", scores)
        return dict(evaluation.metrics)

    def promote(self, version: ModelVersion) -> None:
        self.seen.begin("promote")
        self.client.promote_model(MODEL, version.version, ALIAS, require=[PROMOTION_GATE])
        did = f"{MODEL}@{ALIAS} is v{version.version} ({PROMOTION_GATE} held)"
        self._done("promote", did, f"{self.cli} models alias history {MODEL}")

    def deploy(self) -> None:
        """The deployment of ``MODEL@ALIAS``: created the first time, and set back to it if
        someone changed it since (a change that changes nothing records no revision)."""
        self.seen.begin("deploy")
        model = f"{MODEL}@{ALIAS}"
        try:
            deployment = self.client.create_deployment(
                DEPLOYMENT, model, description="The quickstart's model.", comment="quickstart"
            )
        except AlreadyExists:
            deployment = self.client.update_deployment(DEPLOYMENT, model, comment="quickstart")
        did = f"{DEPLOYMENT} serves {model} (revision {deployment.revision})"
        self._done("deploy", did, f"{self.cli} deployments show {DEPLOYMENT}")

    def serve_and_predict(self, shoppers: tuple[int, ...]) -> None:
        from griffin.quickstart.server import running_server

        serve = f"{self.cli} serve {DEPLOYMENT}"
        if self.settings.url:
            self.skipped["serve"] = (
                "the inference server reads the metadata database and the online store "
                f"directly, and this process cannot open those behind {self.settings.url}: "
                f"run `{serve}` where they are reachable"
            )
            for step in ("serve", "predict"):
                self.seen.begin(step)
                self.seen.skip("skipped: against a server")
            self.steps.append(Step("serve", "skipped", serve))
            return

        self.seen.begin("serve")
        # The server serves the deployment of the client's project, which --project may set.
        settings = self.settings.model_copy(update={"project": self.client.project})
        with running_server(settings, [DEPLOYMENT]) as server:
            self.server_url = server.url
            self.prediction_log = server.prediction_log
            self._done("serve", f"served at {server.url} until the end", serve, server.url)

            self.seen.begin("predict")
            rows = [{JOIN_KEY: shopper} for shopper in shoppers]
            answer = server.predict(DEPLOYMENT, rows)
            self.predictions = [
                Prediction(shopper, value)
                for shopper, value in zip(shoppers, answer["predictions"], strict=True)
            ]
            did = f"{len(rows)} shoppers by id alone: {answer['model']} v{answer['version']}"
        # After the server stopped: its prediction log is written when it closes.
        self._done("predict", did, f"ls {self.prediction_log or 'the prediction log'}")


def _short(version: ModelVersion) -> str:
    digest = version.lineage.code_digest or ""
    return digest[:12] or "-"


def _lineage(run_id: str, dataset: Dataset, digest: str) -> dict[str, Any]:
    """What the version was trained on: the run, the dataset and its features, the code."""
    return {
        "run_id": run_id,
        "dataset": dataset.name,
        "dataset_version": dataset.version,
        "feature_service": dataset.feature_service,
        "feature_service_version": dataset.feature_service_version,
        "features": [
            {"view": f.view, "version": f.version, "features": list(f.features)}
            for f in dataset.features
        ],
        "code_digest": digest,
    }
