"""Run search in SQL: the filter AST of ``griffin.domain.search`` becomes one indexed query.

Each param/tag/metric comparison is an inner join on its own alias of the key-value table, which
the ``(key, value)`` indexes serve; ordering by a metric is an outer join on ``latest_metrics``,
so runs without the metric sort last instead of vanishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, not_, or_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import UnaryExpression

from griffin.domain.search import Comparison, OrderBy
from griffin.store.orm.tracking import LatestMetricRow, ParamRow, RunRow, RunTagRow

__all__ = ["apply_filter", "apply_order"]

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


def apply_filter(
    query: Select[RunRow, str, str], comparisons: Sequence[Comparison]
) -> Select[RunRow, str, str]:
    """Add one join or condition per comparison."""
    for comp in comparisons:
        if comp.entity == "attribute":
            column = _ATTRIBUTE_COLUMNS[comp.key]
            value = _time(comp.value) if comp.key in {"created_at", "ended_at"} else comp.value
            query = query.where(_compare(column, comp.op, value))
            continue
        table = {"param": ParamRow, "tag": RunTagRow, "metric": LatestMetricRow}[comp.entity]
        alias: Any = aliased(table)
        condition = and_(
            alias.run_id == RunRow.id,
            alias.key == comp.key,
            _compare(alias.value, comp.op, comp.value),
        )
        if comp.entity == "metric":
            condition = and_(condition, alias.is_nan.is_(False))
        # Like MLflow, "params.x != 'a'" matches only runs that have the param x.
        query = query.join(alias, condition)
    return query


def apply_order(
    query: Select[RunRow, str, str], order: Sequence[OrderBy]
) -> Select[RunRow, str, str]:
    """Order by the given clauses, then newest first and by id, so pages are stable."""
    clauses: list[UnaryExpression[Any]] = []
    for item in order:
        if item.entity == "attribute":
            column: Any = _ATTRIBUTE_COLUMNS[item.key]
        else:
            table = {"param": ParamRow, "tag": RunTagRow, "metric": LatestMetricRow}[item.entity]
            alias: Any = aliased(table)
            on = and_(alias.run_id == RunRow.id, alias.key == item.key)
            query = query.outerjoin(alias, on)
            column = alias.value
            if item.entity == "metric":
                # NaN sorts with the missing values, last in either direction.
                nan_last = or_(alias.is_nan.is_(True), alias.value.is_(None))
                clauses.append(nan_last.asc())
        clauses.append((column.desc() if item.descending else column.asc()).nulls_last())
    clauses += [RunRow.created_at.desc(), RunRow.id.desc()]
    return query.order_by(*clauses)
