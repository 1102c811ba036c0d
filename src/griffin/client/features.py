"""The feature registry of the client's project: plan and apply definitions, list and show."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from griffin.client._base import ClientBase, segment
from griffin.domain.features import FeatureObject, Plan

if TYPE_CHECKING:
    from griffin.features.project import Definitions
    from griffin.features.sources import SqlSource

__all__ = ["FeaturesMixin"]


def _load(definitions: Definitions | str | Path) -> Definitions:
    # Imported here: the definition machinery is not needed by ``import griffin``.
    from griffin.features.project import load_definitions

    if isinstance(definitions, str | Path):
        definitions = load_definitions(definitions)
    return definitions


class FeaturesMixin(ClientBase):
    def feature_definitions(self, local: Definitions | str | Path | None = None) -> Definitions:
        """The project's registered feature definitions, rebuilt as objects.

        On-demand views rebuilt from the registry carry their function's source text but no
        function to run. Pass ``local`` (your project's ``Definitions`` or the path of its
        definition files) to use your own objects, functions included, in place of the
        registry's objects of the same kind and name.

        Args:
            local: definitions that take precedence over the registry's.

        Raises:
            InvalidArgument: a registry spec or a local definition is malformed.
        """
        from griffin.features.project import Definitions, overlay

        registry = Definitions.from_specs(o.spec for o in self.list_features())
        return registry if local is None else overlay(registry, _load(local))

    def _checked_specs(
        self, definitions: Definitions | str | Path, check_sources: bool
    ) -> list[dict[str, object]]:
        loaded = _load(definitions)
        if check_sources:
            from griffin.features.offline.schema import check_sources as check
            from griffin.features.offline.schema import raise_for_problems

            raise_for_problems(
                check(
                    loaded,
                    offline_root=self.settings.resolved_offline_root,
                    project=self.project,
                )
            )
        return loaded.specs()

    def plan_features(
        self, definitions: Definitions | str | Path, *, check_sources: bool = True
    ) -> Plan:
        """Compare definitions with the project's feature registry, writing nothing.

        Args:
            definitions: a :class:`~griffin.features.project.Definitions`, or the path of a
                ``features.py`` file or a folder of definition files.
            check_sources: read each feature view's source schema (no rows) here and fail
                when a declared column is missing or has an incompatible type. Turn it off
                when this machine cannot reach the sources.

        Returns:
            The plan: objects to create, to update (with field-level diffs), unchanged, and
            in the registry but not in the definitions (these are never deleted).

        Raises:
            InvalidArgument: a definition is malformed, or a source does not match its view
                (every problem is listed).
        """
        body = {"specs": self._checked_specs(definitions, check_sources)}
        return Plan.from_json(
            self._call("POST", f"{self._project_path()}/features/plan", json=body)
        )

    def apply_features(
        self, definitions: Definitions | str | Path, *, check_sources: bool = True
    ) -> Plan:
        """Write definitions to the registry in one transaction: a new version per change.

        Unchanged definitions write nothing; objects missing from ``definitions`` are kept.

        Args:
            definitions: a ``Definitions``, or a path as for :meth:`plan_features`.
            check_sources: check views against their sources first, as
                :meth:`plan_features` does.

        Returns:
            What was done, as a plan with ``applied=True``.

        Raises:
            InvalidArgument: a definition is malformed, or a source does not match its view.
            PermissionDenied: the token cannot edit the project.
        """
        body = {"specs": self._checked_specs(definitions, check_sources)}
        data = self._call("POST", f"{self._project_path()}/features/apply", json=body)
        return Plan.from_json(data)

    def list_features(
        self,
        kind: str | None = None,
        *,
        query: str | None = None,
        owner: str | None = None,
        tag: str | None = None,
        entity: str | None = None,
    ) -> list[FeatureObject]:
        """Registry objects at their latest version, dependencies first, then by name.

        Args:
            kind: ``entity``, ``feature_view``, ``on_demand_feature_view`` or
                ``feature_service``.
            query: free text over name, description, owner and tags (case-insensitive).
            owner: only objects with this owner.
            tag: ``key`` or ``key=value``.
            entity: the entity and the objects keyed by it.

        Returns:
            The matching objects (without their version history).
        """
        params = {"kind": kind, "q": query, "owner": owner, "tag": tag, "entity": entity}
        data = self._call(
            "GET",
            f"{self._project_path()}/features",
            params={k: v for k, v in params.items() if v is not None},
        )
        return [FeatureObject.from_json(item) for item in data["items"]]

    def get_feature_object(self, kind: str, name: str, version: int | None = None) -> FeatureObject:
        """One registry object, with the history of all its versions.

        Args:
            kind: the object's kind, e.g. ``feature_view``.
            name: its name.
            version: a past version to read; the latest when omitted.

        Raises:
            NotFound: no such object (the message names the closest existing names) or
                version.
        """
        path = f"{self._project_path()}/features/{segment(kind)}/{segment(name)}"
        params = {} if version is None else {"version": version}
        return FeatureObject.from_json(self._call("GET", path, params=params))

    def add_sql_source(
        self,
        name: str,
        query: str,
        timestamp_field: str,
        *,
        created_timestamp_field: str | None = None,
        connection: str | None = None,
        check_source: bool = True,
    ) -> FeatureObject:
        """Define a SQL source by name in the registry, without a definitions file.

        The source appears in the catalog (``list_features("source")``) and any view can use
        it: ``FeatureView(..., source=client.get_source(name))``. Defining it again with the
        same query writes nothing; a changed query makes a new version.

        Args:
            name: the source's name.
            query: a ``SELECT``; DuckDB runs it (it can read files) unless ``connection``
                names a database.
            timestamp_field: the column with each row's event time.
            created_timestamp_field: the column with the time a row was written.
            connection: a SQLAlchemy URL to run the query on; write a password as a
                ``${ENV_VAR}`` placeholder (a literal one is refused).
            check_source: run the query here (no rows) and check the timestamp columns.

        Raises:
            InvalidArgument: a bad name or URL, a failing query or a missing column.
        """
        from griffin.features.sources import SqlSource

        source = SqlSource(
            query,
            timestamp_field,
            name=name,
            connection=connection,
            created_timestamp_field=created_timestamp_field,
        )
        if check_source:
            from griffin.features.offline.schema import check_source_columns

            check_source_columns(source)
        body = {
            "query": query,
            "timestamp_field": timestamp_field,
            "created_timestamp_field": created_timestamp_field,
            "connection": connection,
        }
        path = f"{self._project_path()}/features/sources/{segment(name)}"
        return FeatureObject.from_json(self._call("PUT", path, json=body, idempotent=True))

    def get_source(self, name: str) -> SqlSource:
        """A SQL source registered by name, as an object to give a feature view.

        Raises:
            NotFound: no source of that name (the message names the closest ones).
        """
        from griffin.features.sources import SqlSource

        spec = self.get_feature_object("source", name).spec
        return SqlSource.from_spec(spec)
