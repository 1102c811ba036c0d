"""Lineage queries both ways: what a version was trained on, and who used a feature view.

A version's lineage (job, run, dataset snapshot, feature service and view versions, model
definition version, code digest, git commit, runtime) is stored with the version; the views
it read are also copied into ``model_version_features`` rows so that the reverse question
("which versions used feature view X, at which version") is one index probe.
"""

from __future__ import annotations

from dataclasses import dataclass

from griffin.domain.accounts import Principal, Role
from griffin.domain.validation import check_key
from griffin.store import projects
from griffin.store import registry as store
from griffin.store.session import Database

__all__ = ["ViewUse", "versions_using_view"]


@dataclass(frozen=True, slots=True)
class ViewUse:
    """One model version that read a feature view (``view_version`` 0: not recorded)."""

    model: str
    version: int
    view: str
    view_version: int

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "version": self.version,
            "view": self.view,
            "view_version": self.view_version,
        }


def versions_using_view(
    db: Database,
    principal: Principal,
    project: str,
    view: str,
    *,
    view_version: int | None = None,
) -> list[ViewUse]:
    """Every model version of ``project`` trained on feature view ``view`` (at
    ``view_version`` when given), by model name and newest version first."""
    principal.require(Role.VIEWER, project)
    check_key(view, field="feature view name")
    with db.session() as session:
        project_row = projects.get_row(session, project)
        found = store.versions_using_view(session, project_row, view, view_version)
    return [ViewUse(model, version, view, vv) for model, version, vv in found]
