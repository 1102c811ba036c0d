"""Listing and searching runs, as domain objects or (like ``mlflow.search_runs``) a DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from griffin.client import wire
from griffin.client._base import PAGE_SIZE, ClientBase
from griffin.domain.tracking import Run, RunStatus

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RUN_COLUMNS", "SearchMixin", "runs_to_frame"]

RUN_COLUMNS = ("run_id", "experiment", "name", "status", "user", "created_at", "ended_at")


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: fixed columns, then ``params.<k>``, ``metrics.<k>`` (latest value) and
    ``tags.<k>`` columns, each group sorted by key, with missing values as NaN/None."""
    import pandas as pd  # heavy: only when a DataFrame is asked for

    rows: list[dict[str, Any]] = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.id,
            "experiment": run.experiment,
            "name": run.name,
            "status": str(run.status),
            "user": run.user,
            "created_at": run.created_at,
            "ended_at": run.ended_at,
        }
        row.update({f"params.{k}": v for k, v in run.params.items()})
        row.update({f"metrics.{k}": m.value for k, m in run.metrics.items()})
        row.update({f"tags.{k}": v for k, v in run.tags.items()})
        rows.append(row)
    extra = sorted({c for row in rows for c in row} - set(RUN_COLUMNS))
    groups = [sorted(c for c in extra if c.startswith(p)) for p in ("params.", "metrics.", "tags.")]
    columns = list(RUN_COLUMNS) + [c for group in groups for c in group]
    return pd.DataFrame(rows, columns=columns)


class SearchMixin(ClientBase):
    def list_runs(
        self,
        experiment: str | None = None,
        status: RunStatus | str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        """Runs of the project (or of one experiment), newest first.

        Args:
            experiment: only runs of this experiment.
            status: only runs in this status, e.g. ``"RUNNING"``.
            limit: at most this many runs (pages are followed until reached).

        Returns:
            The runs, newest first, without their status history (see :meth:`get_run`).

        Raises:
            NotFound: the experiment does not exist.
        """
        params = {"experiment": experiment, "status": None if status is None else str(status)}
        items = self._pages(f"{self._project_path()}/runs", params, limit=limit)
        return [wire.run(item) for item in items]

    @overload
    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int = 1000,
        as_pandas: Literal[False] = False,
        *,
        page_size: int = PAGE_SIZE,
    ) -> list[Run]: ...

    @overload
    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int = 1000,
        *,
        as_pandas: Literal[True],
        page_size: int = PAGE_SIZE,
    ) -> pd.DataFrame: ...

    def search_runs(
        self,
        experiments: str | Sequence[str] | None = None,
        filter: str | None = None,  # shadows the builtin: it is the name mlflow users know
        order_by: str | Sequence[str] | None = None,
        max_results: int = 1000,
        as_pandas: bool = False,
        *,
        page_size: int = PAGE_SIZE,
    ) -> list[Run] | pd.DataFrame:
        """Runs matching an MLflow-style filter, in the requested order.

        Example::

            client.search_runs("mnist", "metrics.acc > 0.9 and params.lr = '0.01'",
                               order_by="metrics.acc DESC", as_pandas=True)

        Args:
            experiments: one experiment name or several; all of the project's when omitted.
            filter: e.g. ``"metrics.loss < 0.1 and tags.team = 'eta'"``
                (grammar: ``griffin.domain.search``).
            order_by: e.g. ``"metrics.loss ASC"`` or a list of such terms.
            max_results: stop after this many runs (pages are followed until reached).
            as_pandas: return a ``pandas.DataFrame`` with columns ``run_id``,
                ``experiment``, ``name``, ``status``, ``user``, ``created_at``, ``ended_at``,
                ``params.<k>``, ``metrics.<k>`` (latest value) and ``tags.<k>``.
            page_size: runs per request.

        Returns:
            The runs, or a DataFrame of them.

        Raises:
            InvalidArgument: the filter or order is malformed (the message says where).
            NotFound: a named experiment does not exist.
        """
        names = [experiments] if isinstance(experiments, str) else list(experiments or [])
        order = [order_by] if isinstance(order_by, str) else list(order_by or [])
        found: list[Run] = []
        cursor: str | None = None
        while len(found) < max_results:
            body = {
                "experiments": names,
                "filter": filter or "",
                "order_by": order,
                "limit": min(page_size, max_results - len(found)),
                "cursor": cursor,
            }
            # A search changes nothing, so it may be retried like a GET.
            page = self._call(
                "POST", f"{self._project_path()}/runs/search", json=body, idempotent=True
            )
            found.extend(wire.run(item) for item in page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        found = found[:max_results]
        return runs_to_frame(found) if as_pandas else found
