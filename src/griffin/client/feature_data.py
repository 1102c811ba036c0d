"""Training data from the client's project: point-in-time joins and saved datasets."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from griffin.client._base import segment
from griffin.client.features import FeaturesMixin
from griffin.domain.datasets import Dataset
from griffin.errors import BackendUnavailable, GriffinError, InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

    from griffin.features.project import Definitions
    from griffin.features.selection import FeatureRefs
    from griffin.features.training import TrainingSet

__all__ = ["FeatureDataMixin"]

_CHUNK = 1024 * 1024


class FeatureDataMixin(FeaturesMixin):
    def get_training_data(
        self,
        entity_rows: Any,
        features: FeatureRefs,
        *,
        full_names: bool = False,
        created_before: datetime | None = None,
        event_timestamp_column: str = "event_timestamp",
        definitions: Definitions | str | Path | None = None,
    ) -> TrainingSet:
        """Point-in-time-correct training data: features as of each entity row's time.

        For each entity row and each feature view, the latest feature row with the same join
        keys and ``timestamp <= event_timestamp`` (and newer than ``event_timestamp - ttl``)
        is joined; ties go to the later created timestamp. Rows with no match keep their
        place with nulls; nothing is dropped or reordered, and other columns (labels) are
        kept as-is. The join runs in this process, in DuckDB, reading the views' sources
        directly; on-demand views run through the same code as online serving.

        Timezone-naive timestamps (in the entity rows, the sources and ``created_before``)
        are read as UTC; the result's event timestamps are UTC.

        Args:
            entity_rows: a pandas DataFrame, a pyarrow Table, a parquet path (file, folder
                or glob), or a SQL query (text starting with SELECT or WITH) run by DuckDB,
                with every join key and the event timestamp column.
            features: a feature service (name or object), or a list of ``"view:feature"``,
                ``"view"``, view objects, selections and on-demand views.
            full_names: name feature columns ``view__feature`` (a service uses its own
                setting).
            created_before: leave out feature rows created at or after this time (by the
                source's created timestamp column), so backfilled rows do not leak into
                earlier training rows.
            event_timestamp_column: the entity rows' event time column.
            definitions: your project's definitions (a ``Definitions`` or a path), used
                instead of the registry's objects of the same name; needed for on-demand
                views, whose functions the registry does not hold.

        Returns:
            A :class:`~griffin.features.training.TrainingSet` (``to_arrow()``,
            ``to_pandas()``, ``to_parquet(path)``) with its lineage: the views and their
            registry versions (None where your definitions differ from the registry).

        Raises:
            InvalidArgument: an unknown feature, view or service (naming the closest
                names), a missing join key, timestamp or request field.
            NotFound: a parquet path of entity rows does not exist.
        """
        from griffin.features import training

        registry = self.list_features()
        chosen = self.feature_definitions(definitions)
        stored = {(o.kind, o.name): o for o in registry}
        versions: dict[tuple[str, str], int] = {}
        for obj in chosen:
            found = stored.get((obj.kind, obj.name))
            if found is not None and found.fingerprint == obj.fingerprint():
                versions[(obj.kind, obj.name)] = found.version
        return training.get_training_data(
            chosen,
            entity_rows,
            features,
            offline_root=self.settings.resolved_offline_root,
            project=self.project,
            full_names=full_names,
            created_before=created_before,
            event_timestamp_column=event_timestamp_column,
            versions=versions,
        )

    def save_dataset(
        self, name: str, training_set: TrainingSet, *, description: str = ""
    ) -> Dataset:
        """Store a training set and register it as the next version of dataset ``name``.

        The server computes per-column statistics and the event time range, and keeps the
        lineage (feature versions, entity source, cutoff), so a training run can name the
        exact snapshot it used (``name`` and ``version``).

        Args:
            name: the dataset's name (letters, digits, ``_``, ``.``, ``-``).
            training_set: what :meth:`get_training_data` returned.
            description: free text.

        Returns:
            The saved version, with its statistics.

        Raises:
            InvalidArgument: a bad name.
            PayloadTooLarge: the file is over the server's limit.
            PermissionDenied: the token cannot edit the project.
        """
        body = training_set.to_parquet_bytes()
        response = self._transport.request(
            "POST",
            f"{self._project_path()}/features/datasets/{segment(name)}",
            params={"description": description} if description else None,
            content=body,
            headers={"content-type": "application/vnd.apache.parquet"},
            idempotent=False,  # a repeated save would register one more version
        )
        return Dataset.from_json(response.json())

    def list_datasets(self, name: str | None = None) -> list[Dataset]:
        """The newest version of every saved dataset; with ``name``, all its versions.

        Raises:
            NotFound: ``name`` is given and no such dataset exists.
        """
        params = {} if name is None else {"name": name}
        data = self._call("GET", f"{self._project_path()}/features/datasets", params=params)
        return [Dataset.from_json(item) for item in data["items"]]

    def get_dataset(self, name: str, version: int | None = None) -> Dataset:
        """One saved dataset version (the newest by default), with its statistics.

        Raises:
            NotFound: no such dataset (the message names the closest names) or version.
        """
        params = {} if version is None else {"version": version}
        path = f"{self._project_path()}/features/datasets/{segment(name)}"
        return Dataset.from_json(self._call("GET", path, params=params))

    def load_dataset(self, name: str, version: int | None = None) -> pa.Table:
        """Download a saved dataset (the newest version by default) as a ``pyarrow.Table``.

        The bytes are checked against the sha256 recorded when it was saved.

        Raises:
            NotFound: no such dataset or version.
            GriffinError: the file arrived corrupted.
        """
        import pyarrow.parquet as pq

        path = f"{self._project_path()}/features/datasets/{segment(name)}/data"
        params = {} if version is None else {"version": version}
        buffer = io.BytesIO()
        digest = hashlib.sha256()
        with self._transport.stream("GET", path, params=params) as response:
            expected = response.headers.get("x-griffin-sha256") or None
            try:
                for chunk in response.iter_bytes(_CHUNK):
                    digest.update(chunk)
                    buffer.write(chunk)
            except httpx.HTTPError as exc:
                raise BackendUnavailable(
                    f"the download of dataset '{name}' broke off: {exc}"
                ) from None
        if expected is not None and digest.hexdigest() != expected:
            raise GriffinError(
                f"dataset '{name}' arrived corrupted: sha256 {digest.hexdigest()} instead of "
                f"{expected}; download it again",
                details={"name": name, "sha256": expected},
            )
        buffer.seek(0)
        try:
            return pq.read_table(buffer)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise InvalidArgument(
                f"dataset '{name}' is not a readable parquet file: {exc}"
            ) from None
