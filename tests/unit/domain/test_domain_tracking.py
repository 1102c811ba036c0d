"""The run state machine and the run/metric models (griffin.domain.tracking)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from griffin.domain.tracking import Metric, RunStatus, check_transition
from griffin.errors import Conflict

S, R, F, X, K = (
    RunStatus.SCHEDULED,
    RunStatus.RUNNING,
    RunStatus.FINISHED,
    RunStatus.FAILED,
    RunStatus.KILLED,
)

ALLOWED = {
    (S, S),
    (S, R),
    (S, F),
    (S, X),
    (S, K),
    (R, R),
    (R, F),
    (R, X),
    (R, K),
}


@pytest.mark.parametrize("current", list(RunStatus))
@pytest.mark.parametrize("new", list(RunStatus))
def test_transition_table(current: RunStatus, new: RunStatus) -> None:
    if (current, new) in ALLOWED:
        check_transition("r1", current, new)
        return
    with pytest.raises(Conflict) as info:
        check_transition("r1", current, new)
    assert info.value.message == f"run r1 is {current}; it cannot become {new}"
    assert info.value.details == {"run_id": "r1", "status": str(current)}


def test_terminal_states() -> None:
    assert {s for s in RunStatus if s.is_terminal} == {F, X, K}


def test_metric_nan_and_timestamp() -> None:
    metric = Metric(key="loss", value=math.nan, step=3, timestamp_ms=1_700_000_000_123)
    assert metric.is_nan
    assert metric.timestamp == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert not Metric("acc", math.inf, 0, 0).is_nan
