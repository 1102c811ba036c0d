"""Model definitions (the Model Store) from the SDK: apply a project's models with its code.

Code packages are built here (see :mod:`griffin.training.packages`) and uploaded only when the
server does not hold their digest yet; the server recomputes the digest from the contents.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from griffin.client._base import ClientBase, segment
from griffin.domain.model_definitions import (
    DefinitionDiff,
    DefinitionVersion,
    ModelDefinition,
    ModelPlan,
    PackageSummary,
    check_code_digest,
)
from griffin.errors import BackendUnavailable, GriffinError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from griffin.domain.model_definitions import ModelDefinitionSpec
    from griffin.domain.registry import ModelVersion
    from griffin.training.models import ProjectModels
    from griffin.training.packages import Package

__all__ = ["ModelDefinitionsMixin"]

_CHUNK = 1024 * 1024
DEFAULT_PACKAGE_BYTES = 50 * 1024 * 1024


def _file_chunks(path: Path) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk

    return chunks


class ModelDefinitionsMixin(ClientBase):
    def _load_models(self, path: str | os.PathLike[str]) -> ProjectModels:
        from griffin.training.models import load_models

        return load_models(Path(path))

    def _build(self, root: Path, max_bytes: int, dest: Path) -> Package:
        from griffin.training.packages import build_package

        return build_package(root, dest, max_bytes=max_bytes, exclude=[self.settings.home])

    def apply_models(
        self,
        path: str | os.PathLike[str] = ".",
        *,
        dry_run: bool = False,
        max_package_bytes: int = DEFAULT_PACKAGE_BYTES,
    ) -> ModelPlan:
        """Register every model definition of a project, together with its code.

        The project's definitions are imported (``model.py`` in the folder, or the given
        file), its folder is packaged (honouring ``.gitignore``; see
        :func:`griffin.training.packages.build_package`), the package is uploaded unless
        the server already has that digest, and every definition whose spec or code changed
        gets a new version, all in one transaction. Nothing is deleted.

        Args:
            path: the project folder, or one ``.py`` file in it (its folder is packaged).
            dry_run: only compare with the Model Store: build the package but upload and
                write nothing.
            max_package_bytes: the largest total size of the packaged files.

        Returns:
            The plan (``applied=True`` unless ``dry_run``): per definition ``create``,
            ``update`` (with spec changes and whether the code changed), ``unchanged``, or
            ``not_in_definitions``; ``package`` describes the code package.

        Raises:
            InvalidArgument: an error in the project's files (naming the file and line), two
                definitions with one name, an unknown runtime.
            PayloadTooLarge: the package is over ``max_package_bytes`` (the message names the
                biggest files).
            PermissionDenied: the token cannot edit the project.
        """
        project = self._load_models(path)
        workdir = Path(tempfile.mkdtemp(prefix="griffin-package-"))
        try:
            package = self._build(project.root, max_package_bytes, workdir)
            _check_entries(project.specs(), package)
            uploaded = False
            if not dry_run and not self.has_package(package.digest):
                self.upload_package(package.path)
                uploaded = True
            body = {
                "specs": [spec.to_json() for spec in project.specs()],
                "code_digest": package.digest,
                "git_commit": package.git_commit,
            }
            action = "plan" if dry_run else "apply"
            data = self._call(
                "POST", f"{self._project_path()}/model-definitions/{action}", json=body
            )
            summary = PackageSummary(
                digest=package.digest,
                files=package.files,
                size_bytes=package.size_bytes,
                git_commit=package.git_commit,
                dirty=package.dirty,
                uploaded=uploaded,
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return dataclasses.replace(ModelPlan.from_json(data), package=summary)

    def plan_models(
        self, path: str | os.PathLike[str] = ".", *, max_package_bytes: int = DEFAULT_PACKAGE_BYTES
    ) -> ModelPlan:
        """What :meth:`apply_models` would do, writing and uploading nothing.

        Same as ``apply_models(path, dry_run=True)``.
        """
        return self.apply_models(path, dry_run=True, max_package_bytes=max_package_bytes)

    def list_model_definitions(self, query: str | None = None) -> list[ModelDefinition]:
        """Every model definition of the project at its latest version, by name.

        Args:
            query: free text over name, description, owner, tags, runtime and feature service.

        Returns:
            The definitions (without their version history).
        """
        params = {} if query is None else {"q": query}
        data = self._call("GET", f"{self._project_path()}/model-definitions", params=params)
        return [ModelDefinition.from_json(item) for item in data["items"]]

    def get_model_definition(self, name: str, version: int | None = None) -> ModelDefinition:
        """One model definition, with the history of all its versions.

        Its ``entry`` (``model.py:train``) names the train function inside the code package
        ``code_digest``: :meth:`download_package` then
        :func:`griffin.training.models.resolve_entry` give the function back.

        Args:
            name: the model's name.
            version: a past version; the latest when omitted.

        Raises:
            NotFound: no such definition (the message names the closest names) or version.
        """
        path = f"{self._project_path()}/model-definitions/{segment(name)}"
        params = {} if version is None else {"version": version}
        return ModelDefinition.from_json(self._call("GET", path, params=params))

    def model_definition_versions(self, name: str) -> list[DefinitionVersion]:
        """Every version of a model definition, oldest first, each with its code digest,
        git commit, author, time and a summary of what changed.

        Raises:
            NotFound: no such definition.
        """
        path = f"{self._project_path()}/model-definitions/{segment(name)}/versions"
        return [DefinitionVersion.from_json(item) for item in self._call("GET", path)["items"]]

    def diff_model_definition(
        self, name: str, from_version: int | None = None, to_version: int | None = None
    ) -> DefinitionDiff:
        """How two versions of a model definition differ.

        Args:
            name: the model's name.
            from_version: the older version; default the one before ``to_version``.
            to_version: the newer version; default the latest.

        Returns:
            Spec field changes, whether the code package changed and, when both packages are
            stored, the files added, removed and modified.

        Raises:
            NotFound: no such definition or version.
        """
        path = f"{self._project_path()}/model-definitions/{segment(name)}/diff"
        params = {"from": from_version, "to": to_version}
        return DefinitionDiff.from_json(self._call("GET", path, params=params))

    def has_package(self, digest: str) -> bool:
        """Whether the project's server already holds the code package ``digest``."""
        path = f"{self._project_path()}/packages/{check_code_digest(digest)}"
        try:
            self._transport.request("HEAD", path)
        except NotFound:
            return False
        return True

    def upload_package(self, file: str | os.PathLike[str]) -> str:
        """Upload a code package (a ``tar.gz`` made by ``build_package``); return its digest.

        The digest is computed here from the archive's contents and checked again by the
        server. Uploading a package that is already stored changes nothing.

        Raises:
            InvalidArgument: the file is not a valid package (links, unsafe paths, a manifest
                that does not match the files).
            PayloadTooLarge: the file is over the server's limit.
            PermissionDenied: the token cannot edit the project.
        """
        from griffin.training.packages import verify_package

        source = Path(file)
        digest = verify_package(source).digest
        response = self._transport.request(
            "PUT",
            f"{self._project_path()}/packages/{digest}",
            content=_file_chunks(source),
            headers={
                "content-type": "application/gzip",
                "content-length": str(source.stat().st_size),
            },
            idempotent=True,  # content-addressed: sending it again is harmless
        )
        stored = response.json()["digest"]
        return str(stored)

    def version_features(self, version: ModelVersion) -> Path | None:
        """The ``features.py`` of the code package ``version`` was trained with (None when it
        was logged without a package, or its package has none): on-demand views run this
        code wherever the version predicts, as they did when its training set was built."""
        from griffin.training.packages import FEATURES_FILE

        digest = version.lineage.code_digest
        if not digest:
            return None
        features = self.package_folder(digest) / FEATURES_FILE
        return features if features.is_file() else None

    def package_folder(self, digest: str) -> Path:
        """The files of code package ``digest``, downloaded and verified once, then kept under
        ``<home>/packages/<project>/<digest>`` (read-only by convention: never edit them).

        The download goes to a staging folder renamed into place, so a crash or a second
        process never leaves half a package there.

        Raises:
            NotFound: the project has no such package.
            GriffinError: the download arrived corrupted, or does not unpack.
        """
        cache = self.settings.home / "packages" / self.project
        target = cache / check_code_digest(digest)
        if target.is_dir():
            return target
        cache.mkdir(parents=True, exist_ok=True)
        staging = cache / f".{digest}.{uuid.uuid4().hex}"
        try:
            self.download_package(digest, staging)
            try:
                os.rename(staging, target)
            except OSError:
                if not target.is_dir():  # not another process's copy of the same package
                    raise
        except InvalidArgument as exc:
            raise GriffinError(f"code package {digest[:12]}: {exc.message}") from None
        finally:
            with contextlib.suppress(OSError):
                shutil.rmtree(staging)
        return target

    def download_package(self, digest: str, dest_dir: str | os.PathLike[str]) -> Path:
        """Download a code package and extract it, verified, into ``dest_dir``.

        The archive's bytes are checked against the server's sha256, then every file against
        the package's manifest, and the manifest's digest against ``digest``.

        Returns:
            ``dest_dir`` (created if needed), holding the project's files.

        Raises:
            NotFound: the project has no such package.
            GriffinError: the download arrived corrupted or does not match ``digest``.
        """
        from griffin.training.packages import extract_package, verify_package

        path = f"{self._project_path()}/packages/{check_code_digest(digest)}"
        fd, name = tempfile.mkstemp(prefix="griffin-package-", suffix=".tar.gz")
        archive = Path(name)
        try:
            sha = hashlib.sha256()
            with os.fdopen(fd, "wb") as handle, self._transport.stream("GET", path) as response:
                expected = response.headers.get("x-griffin-sha256") or None
                try:
                    for chunk in response.iter_bytes(_CHUNK):
                        sha.update(chunk)
                        handle.write(chunk)
                except httpx.HTTPError as exc:
                    raise BackendUnavailable(
                        f"the download of package {digest[:12]} broke off: {exc}"
                    ) from None
            if expected is not None and sha.hexdigest() != expected:
                raise GriffinError(
                    f"code package {digest[:12]} arrived corrupted; download it again",
                    details={"digest": digest},
                )
            try:
                actual = verify_package(archive).digest
            except InvalidArgument as exc:
                raise GriffinError(
                    f"code package {digest[:12]} is invalid: {exc.message}"
                ) from None
            if actual != digest:
                raise GriffinError(
                    f"code package {digest[:12]} holds other contents (digest {actual[:12]})",
                    details={"digest": digest, "actual": actual},
                )
            target = Path(dest_dir)
            extract_package(archive, target)
        finally:
            with contextlib.suppress(OSError):
                archive.unlink()
        return target


def _check_entries(specs: list[ModelDefinitionSpec], package: Package) -> None:
    """Every definition's file must be in the package, or its jobs could never start (a
    project folder that git ignores, or a .gitignore that leaves out model.py)."""
    packaged = {f.path for f in package.manifest.files}
    for spec in specs:
        relative = spec.entry.rpartition(":")[0]
        if relative not in packaged:
            raise InvalidArgument(
                f"model {spec.name!r}: its file {relative} is not in the code package "
                f"({package.files} files): is it ignored by git (.gitignore, or a folder git "
                "ignores)? Griffin packages what git would commit",
                details={"model": spec.name, "file": relative},
            )
