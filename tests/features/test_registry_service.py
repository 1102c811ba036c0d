"""The feature registry service: plan, apply, versions, lists and errors, on both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import func, select

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import InvalidArgument, NotFound, PermissionDenied
from griffin.features import registry
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.project import Definitions
from griffin.features.services import FeatureService
from griffin.features.sources import ParquetSource, RequestSource
from griffin.platform import Platform
from griffin.store import features as store
from griffin.store.orm.features import FeatureObjectRow, FeatureObjectVersionRow

ADMIN = Principal("alice", ALL_PROJECTS, Role.ADMIN)
VIEWER = Principal("bob", "default", Role.VIEWER)


def definitions(trips: str = "int64", *, with_service: bool = True) -> Definitions:
    driver = Entity("driver", ["driver_id"], dtype="int64", owner="rides", tags={"pii": "no"})
    stats = FeatureView(
        "driver_stats",
        [driver],
        [Feature("trips", trips), Feature("distance", "float64")],
        ParquetSource("data/*.parquet", "ts"),
        ttl=timedelta(days=1),
        owner="rides",
        tags={"team": "rides"},
        description="Daily driver statistics",
    )

    @on_demand_feature_view(
        sources=[stats[["distance"]], RequestSource("req", {"hours": "float64"})],
        features=[Feature("speed", "float64")],
    )
    def speed(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"speed": df["distance"] / df["hours"]})

    objects: list[Any] = [driver, stats, speed]
    if with_service:
        objects.append(FeatureService("eta", [stats[["trips"]], speed], owner="maps"))
    return Definitions(objects)


def rows(platform: Platform) -> tuple[int, int]:
    with platform.db.session() as session:
        objects = session.scalar(select(func.count()).select_from(FeatureObjectRow))
        versions = session.scalar(select(func.count()).select_from(FeatureObjectVersionRow))
    return int(objects or 0), int(versions or 0)


def test_plan_apply_update_and_history(platform: Platform) -> None:
    db = platform.db
    first = registry.plan(db, ADMIN, "default", definitions())
    assert [i.action for i in first.items] == ["create"] * 4
    assert not first.applied
    assert rows(platform) == (0, 0)

    applied = registry.apply(db, ADMIN, "default", definitions())
    assert applied.applied
    assert [i.new_version for i in applied.items] == [1] * 4
    assert rows(platform) == (4, 4)

    changed = registry.plan(db, ADMIN, "default", definitions("float64"))
    by_name = {i.name: i for i in changed.items}
    assert by_name["driver"].action == "unchanged"
    update = by_name["driver_stats"]
    assert (update.action, update.version, update.new_version) == ("update", 1, 2)
    assert [str(c) for c in update.changes] == ['features[trips].dtype: "int64" -> "float64"']
    assert "features[trips].dtype" in changed.render()

    carol = Principal("carol", "default", Role.EDITOR)
    registry.apply(db, carol, "default", definitions("float64"))
    latest = registry.get_object(db, VIEWER, "default", "feature_view", "driver_stats")
    assert latest.version == latest.latest_version == 2
    assert [(v.version, v.created_by) for v in latest.versions] == [(1, "alice"), (2, "carol")]
    assert latest.versions[0].change == "created"
    assert "int64" in latest.versions[1].change
    old = registry.get_object(db, VIEWER, "default", "feature_view", "driver_stats", version=1)
    assert old.spec["features"][0]["dtype"] == "int64"
    assert old.latest_version == 2
    assert old.fingerprint == definitions().get("feature_view", "driver_stats").fingerprint()


def test_unchanged_reapply_writes_nothing(platform: Platform) -> None:
    registry.apply(platform.db, ADMIN, "default", definitions())
    again = registry.apply(platform.db, ADMIN, "default", definitions())
    assert {i.action for i in again.items} == {"unchanged"}
    assert not again.has_changes
    assert rows(platform) == (4, 4)


def test_missing_objects_are_reported_not_deleted(platform: Platform) -> None:
    registry.apply(platform.db, ADMIN, "default", definitions())
    result = registry.apply(platform.db, ADMIN, "default", definitions(with_service=False))
    gone = result.of("not_in_definitions")
    assert [(i.kind, i.name, i.version) for i in gone] == [("feature_service", "eta", 1)]
    assert "not in your definitions" in result.render()
    assert "not deleted" in result.render()
    assert rows(platform) == (4, 4)
    assert registry.get_object(platform.db, ADMIN, "default", "feature_service", "eta").version == 1


def test_viewer_cannot_apply(platform: Platform) -> None:
    registry.plan(platform.db, VIEWER, "default", definitions())  # reading is fine
    with pytest.raises(PermissionDenied):
        registry.apply(platform.db, VIEWER, "default", definitions())
    assert rows(platform) == (0, 0)


def test_unknown_object_names_close_matches(platform: Platform) -> None:
    registry.apply(platform.db, ADMIN, "default", definitions())
    with pytest.raises(NotFound, match=r"driver_stat.*did you mean 'driver_stats'") as info:
        registry.get_object(platform.db, ADMIN, "default", "feature_view", "driver_stat")
    assert info.value.details["close_matches"] == ["driver_stats"]
    with pytest.raises(NotFound, match="no version 7"):
        registry.get_object(platform.db, ADMIN, "default", "entity", "driver", version=7)
    with pytest.raises(InvalidArgument, match="did you mean feature_view"):
        registry.list_objects(platform.db, ADMIN, "default", kind="feature_views")


def test_apply_is_all_or_nothing(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    real = store.add_version
    calls = []

    def failing(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "add_version", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        registry.apply(platform.db, ADMIN, "default", definitions())
    assert rows(platform) == (0, 0)


def test_list_filters(platform: Platform) -> None:
    registry.apply(platform.db, ADMIN, "default", definitions())

    def names(**filters: Any) -> list[str]:
        return [o.name for o in registry.list_objects(platform.db, VIEWER, "default", **filters)]

    assert names() == ["driver", "driver_stats", "speed", "eta"]
    assert names(kind="feature_view") == ["driver_stats"]
    assert names(owner="maps") == ["eta"]
    assert names(tag="team") == ["driver_stats"]
    assert names(tag="team=other") == []
    assert names(query="DAILY") == ["driver_stats"]
    assert names(query="pii=no") == ["driver"]
    assert names(entity="driver") == ["driver", "driver_stats", "speed", "eta"]
    assert names(entity="rider") == []
