"""Experiments of the client's project."""

from __future__ import annotations

from typing import Any

from griffin.client import wire
from griffin.client._base import ClientBase, segment, strings
from griffin.domain.tracking import Experiment

__all__ = ["ExperimentsMixin"]


class ExperimentsMixin(ClientBase):
    def create_experiment(
        self, name: str, description: str = "", tags: dict[str, Any] | None = None
    ) -> Experiment:
        """Create an experiment in the client's project.

        Experiments are also created on first use by :meth:`create_run`; create one
        explicitly to give it a description or tags.

        Args:
            name: unique within the project; letters, digits, spaces and ``_-.``.
            description: free text shown in the UI.
            tags: string labels; other values are converted with ``str()``.

        Returns:
            The new experiment.

        Raises:
            AlreadyExists: an experiment with this name exists (even if deleted).
            InvalidArgument: the name or a tag is malformed.
            PermissionDenied: the token cannot edit the project.
        """
        data = self._call(
            "POST",
            f"{self._project_path()}/experiments",
            json={"name": name, "description": description, "tags": strings(tags)},
        )
        return wire.experiment(data)

    def get_experiment(self, name: str) -> Experiment:
        """Fetch an experiment by name.

        Args:
            name: the experiment's name.

        Returns:
            The experiment, deleted or not (see ``lifecycle``).

        Raises:
            NotFound: no experiment has this name in the project.
        """
        return wire.experiment(
            self._call("GET", f"{self._project_path()}/experiments/{segment(name)}")
        )

    def list_experiments(
        self, name_contains: str | None = None, include_deleted: bool = False
    ) -> list[Experiment]:
        """All experiments of the project, by name, following pages to the end.

        Args:
            name_contains: keep only experiments whose name contains this text.
            include_deleted: also list soft-deleted experiments.

        Returns:
            The experiments, ordered by name.
        """
        items = self._pages(
            f"{self._project_path()}/experiments",
            {"name_contains": name_contains, "include_deleted": include_deleted},
            limit=None,
        )
        return [wire.experiment(item) for item in items]

    def delete_experiment(self, name: str) -> None:
        """Soft-delete an experiment: it and its runs leave lists but keep their data.

        Args:
            name: the experiment's name.

        Raises:
            NotFound: no experiment has this name in the project.
            PermissionDenied: the token cannot edit the project.
        """
        self._call("DELETE", f"{self._project_path()}/experiments/{segment(name)}")
