"""The model registry from the SDK: register, resolve, alias, promote, download and load.

Resolving a reference (``name@alias``, ``name@latest``, ``name/3``) is what model servers and
batch jobs do on every start and while polling for alias moves, so the client keeps the last
answer per reference with its ETag and revalidates with ``If-None-Match``: an unchanged
answer costs the server one indexed read and sends no body back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from griffin.client._base import segment, strings
from griffin.client.artifacts import ArtifactsMixin
from griffin.client.runs import RunsMixin
from griffin.domain.registry import (
    AliasChange,
    AliasEvent,
    Lineage,
    ModelVersion,
    RegisteredModel,
    check_model_name,
    parse_model_ref,
)
from griffin.errors import GriffinError, InvalidArgument

if TYPE_CHECKING:
    from griffin.registry.flavors import LoadedModel
    from griffin.registry.signature import Signature

__all__ = ["ModelsMixin"]

_MAX_CACHED = 1024  # references whose last answer (and ETag) is kept for revalidation


class ModelsMixin(RunsMixin, ArtifactsMixin):
    # ------------------------------------------------------------------ registered models
    def create_registered_model(
        self, name: str, *, description: str = "", tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        """Register a model name with no versions yet (registering a version also does it).

        Raises:
            AlreadyExists: the project already has a model of that name.
            InvalidArgument: the name is not 1-128 letters, digits and ``_ - .``.
        """
        body = {"name": name, "description": description, "tags": strings(tags)}
        data = self._call("POST", self._models_path(), json=body)
        return RegisteredModel.from_json(data)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model: its newest version number and where its aliases point."""
        return RegisteredModel.from_json(self._call("GET", self._models_path(name)))

    def list_registered_models(
        self, *, prefix: str | None = None, limit: int | None = None
    ) -> list[RegisteredModel]:
        """Registered models of the project, by name (those starting with ``prefix``)."""
        items = self._pages(self._models_path(), {"prefix": prefix}, limit)
        return [RegisteredModel.from_json(item) for item in items]

    def update_registered_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> RegisteredModel:
        """Replace the description and merge ``tags`` (an empty value deletes a tag)."""
        body = {"description": description, "tags": strings(tags)}
        return RegisteredModel.from_json(self._call("PATCH", self._models_path(name), json=body))

    # ------------------------------------------------------------------ versions
    def create_model_version(
        self,
        name: str,
        source: str,
        flavor: str,
        *,
        signature: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        lineage: Lineage | Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register files already in a run's artifacts as the next version of ``name``.

        Most code calls :meth:`log_model` instead, which saves a model object first.

        Args:
            name: the registered model (created on first use).
            source: ``runs:/<run_id>/<path>``, the run artifact folder holding the saved model.
            flavor: how it was saved (``sklearn``, ``xgboost``, ``lightgbm``, ``pytorch``,
                ``pyfunc``).
            signature: the input/output signature's JSON.
            metrics, params, tags, description: recorded with the version.
            lineage: what it was trained on (job, dataset, features, code, runtime).
        """
        if isinstance(lineage, Lineage):
            lineage = lineage.to_json()
        body = {
            "source": source,
            "flavor": flavor,
            "signature": dict(signature or {}),
            "metrics": {k: float(v) for k, v in (metrics or {}).items()},
            "params": strings(params),
            "lineage": dict(lineage or {}),
            "tags": strings(tags),
            "description": description,
        }
        data = self._call("POST", self._models_path(name, "versions"), json=body)
        return ModelVersion.from_json(data)

    def log_model(
        self,
        model: Any,
        name: str,
        *,
        run_id: str | None = None,
        experiment: str | None = None,
        artifact_path: str = "model",
        signature: Signature | None = None,
        input_example: Any = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        lineage: Lineage | Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Save a trained model object, upload it to a run and register the next version.

        The flavor is detected from the object (scikit-learn, XGBoost, LightGBM, PyTorch, or
        any object with ``predict``, saved as ``pyfunc``); an object of none of these raises
        ``InvalidArgument`` before anything is uploaded or registered.

        Args:
            model: the trained model object.
            name: the registered model (created on first use).
            run_id: the run whose artifacts receive the files; without one, a run is created
                in ``experiment`` (default ``model <name>``) and ended afterwards.
            artifact_path: the folder under the run's artifacts.
            signature: the model's input (and output) columns; inferred from
                ``input_example`` when omitted.
            input_example: a few rows of input (a DataFrame or dict of columns).
            metrics, params, lineage, tags, description: recorded with the version.

        Returns:
            The new :class:`~griffin.domain.registry.ModelVersion`.
        """
        from griffin.registry.flavors import save_model

        check_model_name(name)
        with tempfile.TemporaryDirectory(prefix="griffin-model-") as tmp:
            saved = save_model(
                model, Path(tmp) / "model", signature=signature, input_example=input_example
            )
            own_run = run_id is None
            if run_id is None:
                run_id = self._model_run(name, experiment)
            try:
                self.log_artifact(run_id, saved.folder, artifact_path)
                version = self.create_model_version(
                    name,
                    f"runs:/{run_id}/{artifact_path.strip('/')}",
                    saved.flavor,
                    signature=None if saved.signature is None else saved.signature.to_json(),
                    metrics=metrics,
                    params=params,
                    lineage=lineage,
                    tags=tags,
                    description=description,
                )
            except BaseException:
                if own_run:
                    self.end_run(run_id, "FAILED", reason="registering the model failed")
                raise
            if own_run:
                self.end_run(run_id)
        return version

    def _model_run(self, name: str, experiment: str | None) -> str:
        run = self.create_run(experiment or f"model {name}", name=f"log-model-{name}")
        return run.id

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        """A version by number, ``"latest"`` or alias name."""
        return self._resolve(name, str(version))

    def resolve_model(self, ref: str) -> ModelVersion:
        """The version a reference names now: ``name@alias``, ``name@latest`` or ``name/3``.

        Answers are cached per reference and revalidated with the server on every call
        (``If-None-Match``), so polling for an alias move is cheap and never stale.

        Raises:
            NotFound: no such model, version or alias (the message lists the model's aliases).
            InvalidArgument: ``ref`` is not a valid reference.
        """
        name, which = parse_model_ref(ref)
        return self._resolve(name, which)

    def _resolve(self, name: str, which: str) -> ModelVersion:
        if "_resolved" not in self.__dict__:
            self._resolved: dict[tuple[str, str, str], tuple[str, ModelVersion]] = {}
            self._resolved_lock = threading.Lock()
        key = (self.project, name, which)
        cached = self._resolved.get(key)
        path = (
            self._models_path(name, "versions", which)
            if which.isdigit()
            else self._models_path(name, "aliases", which)
        )
        headers = {"if-none-match": cached[0]} if cached else None
        response = self._transport.request("GET", path, headers=headers)
        if response.status_code == 304 and cached is not None:
            return cached[1]
        version = ModelVersion.from_json(orjson.loads(response.content))
        etag = response.headers.get("etag")
        if etag:
            with self._resolved_lock:
                if len(self._resolved) >= _MAX_CACHED and key not in self._resolved:
                    self._resolved.pop(next(iter(self._resolved)))
                self._resolved[key] = (etag, version)
        return version

    def list_model_versions(self, name: str, *, limit: int | None = None) -> list[ModelVersion]:
        """Versions of ``name``, newest first."""
        items = self._pages(self._models_path(name, "versions"), {}, limit)
        return [ModelVersion.from_json(item) for item in items]

    def update_model_version(
        self,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> ModelVersion:
        """Replace the description; merge tags (empty value deletes) and metrics (evaluation
        results are stored next to the training metrics)."""
        body = {
            "description": description,
            "tags": strings(tags),
            "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        }
        path = self._models_path(name, "versions", str(int(version)))
        return ModelVersion.from_json(self._call("PATCH", path, json=body))

    # ------------------------------------------------------------------ aliases
    def set_model_alias(
        self, name: str, alias: str, version: int | str, *, require: list[str] | None = None
    ) -> AliasChange:
        """Point ``alias`` at ``version`` (set or move); every change is recorded.

        Args:
            require: promotion gates such as ``"auc>=0.85"``, checked against the version's
                metrics first; a failed one raises ``Conflict`` and changes nothing.
        """
        body = {"version": version, "require": list(require or [])}
        data = self._call("PUT", self._models_path(name, "aliases", alias), json=body)
        return AliasChange.from_json(data)

    def delete_model_alias(self, name: str, alias: str) -> AliasChange:
        """Remove ``alias`` from ``name`` (recorded in its history)."""
        data = self._call("DELETE", self._models_path(name, "aliases", alias))
        return AliasChange.from_json(data)

    def promote_model(
        self, name: str, version: int | str, alias: str, *, require: list[str] | None = None
    ) -> AliasChange:
        """Point ``alias`` (e.g. ``champion``) at ``version`` if every requirement holds.

        Raises:
            Conflict: a requirement (``"auc>=0.85"``) is not met; the message says which and
                the version's value.
            InvalidArgument: a version of another model, a bad alias or requirement.
        """
        body = {"version": version, "alias": alias, "require": list(require or [])}
        data = self._call("POST", self._models_path(name, "promote"), json=body)
        return AliasChange.from_json(data)

    def model_alias_history(
        self, name: str, alias: str | None = None, *, limit: int = 100
    ) -> list[AliasEvent]:
        """Alias changes of ``name`` (of one ``alias``), newest first: who, when, from, to."""
        params = {"alias": alias, "limit": limit}
        data = self._call("GET", self._models_path(name, "alias-history"), params=params)
        return [AliasEvent.from_json(item) for item in data["items"]]

    # ------------------------------------------------------------------ lineage
    def model_versions_using_view(
        self, view: str, *, view_version: int | None = None
    ) -> list[dict[str, Any]]:
        """Model versions trained on feature view ``view`` (at ``view_version`` when given):
        dicts with ``model``, ``version``, ``view``, ``view_version`` (0: not recorded)."""
        path = f"{self._project_path()}/features/views/{segment(view)}/model-versions"
        data = self._call("GET", path, params={"view_version": view_version})
        return list(data["items"])

    # ------------------------------------------------------------------ files
    def download_model(self, ref: str, dest: str | os.PathLike[str] | None = None) -> Path:
        """Download a version's files and return the model folder.

        Args:
            ref: ``name@alias``, ``name@latest`` or ``name/3``.
            dest: the folder to put the model in; by default a cache under
                ``$GRIFFIN_HOME/models/<project>/<name>/<version>``, reused when its files
                still match their recorded sha256.
        """
        version = self.resolve_model(ref)
        return self._download_version(version, dest)

    def _download_version(self, version: ModelVersion, dest: str | os.PathLike[str] | None) -> Path:
        from griffin.registry.flavors import METADATA_FILE, MLMODEL_FILE, is_model_folder

        run_id = version.run_id
        if run_id is None:
            raise InvalidArgument(
                f"version {version.version} of {version.name!r} has source {version.source!r}, "
                "which this client cannot download"
            )
        target = (
            Path(dest)
            if dest is not None
            else self.settings.home / "models" / self.project / version.name / str(version.version)
        )
        if dest is None and is_model_folder(target) and _intact(target):
            return target
        prefix = version.artifact_path
        listed = self.list_artifacts(run_id, prefix)
        # An MLflow-format version (registered through MLflow) has an MLmodel file instead.
        if not any(a.path.endswith((METADATA_FILE, MLMODEL_FILE)) for a in listed):
            raise GriffinError(
                f"version {version.version} of {version.name!r}: the run's folder "
                f"{prefix or '/'} holds neither {METADATA_FILE} nor {MLMODEL_FILE}; was the "
                "model saved there?"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{target.name}.download-{uuid.uuid4().hex}"
        try:
            for artifact in listed:
                self.download_artifact(run_id, artifact.path, staging)
            folder = staging / prefix if prefix else staging
            if target.exists():
                shutil.rmtree(target)
            folder.replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def load_model(self, ref: str) -> LoadedModel:
        """Download (or reuse the cached copy of) a version and load it, whatever its flavor.

        ``load_model("delivery_eta@champion").predict(frame)`` takes a DataFrame, a dict of
        columns or a list of row dicts; columns are checked against the version's signature.
        Pickled flavors (scikit-learn, pyfunc) run code from the file when loaded: load only
        models your team registered.
        """
        return self.load_version(self.resolve_model(ref))

    def load_version(self, version: ModelVersion) -> LoadedModel:
        """Load a version already resolved (``resolve_model``), from the local cache when its
        files are intact, without resolving it again."""
        from griffin.registry.flavors import load_model

        return load_model(self._download_version(version, None))

    def _models_path(self, name: str | None = None, *rest: str) -> str:
        path = f"{self._project_path()}/models"
        if name is not None:
            path += f"/{segment(name)}"
        for part in rest:
            path += f"/{segment(part)}"
        return path


def _intact(folder: Path) -> bool:
    """Whether a cached model folder still matches its recorded hashes."""
    from griffin.registry.flavors import verify_files

    try:
        verify_files(folder)
    except GriffinError:
        return False
    return True


def load_model(ref: str, *, project: str | None = None) -> LoadedModel:
    """Load a registered model version: ``griffin.load_model("delivery_eta@champion")``.

    Opens a :class:`~griffin.Client` with the configured settings (``GRIFFIN_URL``, or the
    embedded store), downloads the version once into the local cache
    (``$GRIFFIN_HOME/models/...``) and returns an object whose ``predict`` takes a DataFrame,
    a dict of columns or a list of row dicts, whatever the flavor.

    Args:
        ref: ``name@alias``, ``name@latest`` or ``name/VERSION``.
        project: the project (default: the ``project`` setting).
    """
    from griffin.client import Client

    with Client(project=project) as client:
        return client.load_model(ref)
