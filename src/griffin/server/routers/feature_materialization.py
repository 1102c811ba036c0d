"""What is online per feature view: materialization state, freshness, and pushed rows.

Materialization itself runs in the SDK or CLI process, which reads the sources and writes the
online store; these routes only record and show its state. Pushes run here, so producers need
nothing but HTTP.
"""

from __future__ import annotations

import math
from typing import Any

import pyarrow as pa
from fastapi import APIRouter

from griffin.errors import InvalidArgument
from griffin.features import materialize as service
from griffin.features.push import push as push_rows
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.feature_materialization import (
    PushIn,
    PushResultOut,
    RunRecordIn,
    ViewStateOut,
    ViewStatesOut,
)

router = APIRouter(prefix="/projects/{project}/features", tags=["features"])

_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


@router.get("/states")
def list_states(
    project: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ViewStatesOut:
    found = service.list_states(platform.db, principal, project)
    return ViewStatesOut(items=[ViewStateOut.of(s) for s in found])


@router.get("/views/{view}/state")
def get_state(
    project: str, view: str, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ViewStateOut:
    return ViewStateOut.of(service.get_state(platform.db, principal, project, view))


@router.put("/views/{view}/state")
def record_run(
    project: str,
    view: str,
    body: RunRecordIn,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> ViewStateOut:
    state = service.record_run(platform.db, principal, project, view, body.to_domain())
    return ViewStateOut.of(state)


def _column(name: str, values: list[Any]) -> Any:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        pass
    # Non-finite floats travel as strings (JSON has no literal for them).
    if any(isinstance(v, str) and v in _SPECIAL for v in values):
        try:
            return pa.array([_SPECIAL.get(v, v) if isinstance(v, str) else v for v in values])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass
    kinds = sorted({type(v).__name__ for v in values if v is not None})
    raise InvalidArgument(
        f"pushed column {name!r} mixes value types ({', '.join(kinds)}); send one type per column",
        details={"column": name},
    )


def _table(body: PushIn) -> pa.Table:
    lengths = {len(values) for values in body.columns.values()}
    if len(lengths) > 1:
        raise InvalidArgument(
            "pushed columns have different lengths: "
            + ", ".join(f"{k}={len(v)}" for k, v in body.columns.items()),
            details={"field": "columns"},
        )
    return pa.table({name: _column(name, values) for name, values in body.columns.items()})


@router.post("/push/{view}")
def push(
    project: str,
    view: str,
    body: PushIn,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> PushResultOut:
    table = _table(body)
    return PushResultOut.of(push_rows(platform, principal, project, view, table))
