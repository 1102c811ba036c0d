"""Run search in SQL: the filter AST of ``griffin.domain.search`` becomes one indexed query.

Each param/tag/metric comparison is an inner join on its own alias of the key-value table, which
the ``(key, value)`` indexes serve; ordering by a metric is an outer join on ``latest_metrics``,
so runs without the metric sort last instead of vanishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import UnaryExpression

from griffin.domain.search import Comparison, OrderBy
from griffin.store.orm.tracking import LatestMetricRow, ParamRow, RunRow, RunTagRow
from griffin.store.runs import RunSelect

__all__ = ["apply_search"]

_ATTRIBUTE_COLUMNS: dict[str, Any] = {
    "status": RunRow.status,
    "name": RunRow.name,
    "id": RunRow.id,
    "user": RunRow.user,
    "experiment_id": RunRow.experiment_id,
    "created_at": RunRow.created_at,
    "ended_at": RunRow.ended_at,
}


def _compare(column: Any, op: str, value: object) -> ColumnElement[bool]:
    if op == "IN":
        assert isinstance(value, tuple)
        return column.in_(value) if value else false()
    if op == "NOT IN":
        assert isinstance(value, tuple)
        return not_(column.in_(value)) if value else ~false()
    if op == "LIKE":
        return column.like(value, escape="\\")  # type: ignore[no-any-return]
    if op == "ILIKE":
        return func.lower(column).like(func.lower(value), escape="\\")
    operators = {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    return operators[op](value)  # type: ignore[no-any-return]


def _time(value: str | float | tuple[str, ...]) -> datetime:
    assert isinstance(value, float)
    return datetime.fromtimestamp(value / 1000, UTC)


_TABLES: dict[str, Any] = {"param": ParamRow, "tag": RunTagRow, "metric": LatestMetricRow}


def apply_search(
    query: RunSelect,
    comparisons: Sequence[Comparison],
    order: Sequence[OrderBy],
) -> RunSelect:
    """Add the filter's joins and conditions, then the ordering.

    Ordering by a key the filter already joined reuses that join, so "metrics.acc > 0.5 ORDER BY
    metrics.acc DESC" reads ``latest_metrics`` once and the database can walk the (key, value)
    index in order and stop after one page.
    """
    joined: dict[tuple[str, str], Any] = {}
    for comp in comparisons:
        if comp.entity == "attribute":
            column = _ATTRIBUTE_COLUMNS[comp.key]
            value = _time(comp.value) if comp.key in {"created_at", "ended_at"} else comp.value
            query = query.where(_compare(column, comp.op, value))
            continue
        alias: Any = aliased(_TABLES[comp.entity])
        # Like MLflow, "params.x != 'a'" matches only runs that have the param x; a NaN metric
        # is stored as NULL in latest_metrics, so no comparison matches it.
        query = query.join(
            alias,
            and_(
                alias.run_id == RunRow.id,
                alias.key == comp.key,
                _compare(alias.value, comp.op, comp.value),
            ),
        )
        joined.setdefault((comp.entity, comp.key), alias)
    clauses: list[UnaryExpression[Any]] = []
    for item in order:
        if item.entity == "attribute":
            column = _ATTRIBUTE_COLUMNS[item.key]
        else:
            alias = joined.get((item.entity, item.key))
            if alias is None:
                # Runs without the key (or with a NaN metric) still match; they sort last.
                alias = aliased(_TABLES[item.entity])
                query = query.outerjoin(
                    alias, and_(alias.run_id == RunRow.id, alias.key == item.key)
                )
                joined[(item.entity, item.key)] = alias
            column = alias.value
        clauses.append((column.desc() if item.descending else column.asc()).nulls_last())
    clauses += [RunRow.created_at.desc(), RunRow.id.desc()]
    return query.order_by(*clauses)
