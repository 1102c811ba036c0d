"""Loading a project's definitions (griffin.features.project)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from griffin.errors import InvalidArgument
from griffin.features.definitions import Entity, Feature, FeatureView
from griffin.features.project import Definitions, load_definitions
from griffin.features.services import FeatureService
from griffin.features.sources import ParquetSource

ENTITIES = """
from griffin.features.definitions import Entity

driver = Entity("driver", ["driver_id"], dtype="int64")
"""

VIEWS = """
from datetime import timedelta

import pandas as pd

from entities import driver
from griffin.features.checks import not_null
from griffin.features.definitions import Feature, FeatureView
from griffin.features.on_demand import on_demand_feature_view
from griffin.features.services import FeatureService
from griffin.features.sources import ParquetSource, RequestSource

stats = FeatureView(
    "driver_stats",
    [driver],
    [Feature("trips", "int64"), Feature("distance", "float64")],
    ParquetSource("data/*.parquet", "ts"),
    ttl=timedelta(days=1),
    checks=[not_null("trips")],
)
request = RequestSource("request", {"hours": "float64"})


@on_demand_feature_view(
    sources=[stats[["distance"]], request], features=[Feature("speed", "float64")]
)
def speed(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"speed": df["distance"] / df["hours"]})


eta = FeatureService("eta", [stats[["trips"]], speed])
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_load_a_folder(tmp_path: Path) -> None:
    write(tmp_path, "entities.py", ENTITIES)
    write(tmp_path, "features.py", VIEWS)
    write(tmp_path, "test_features.py", "raise RuntimeError('tests are skipped')\n")
    write(tmp_path, "_private.py", "raise RuntimeError('private modules are skipped')\n")
    defs = load_definitions(tmp_path)
    assert [e.name for e in defs.entities] == ["driver"]
    assert [v.name for v in defs.feature_views] == ["driver_stats"]
    assert [v.name for v in defs.on_demand_views] == ["speed"]
    assert [s.name for s in defs.services] == ["eta"]
    assert [o.kind for o in defs] == [
        "entity",
        "feature_view",
        "on_demand_feature_view",
        "feature_service",
    ]
    # Every spec round-trips through the registry form, resolving references by name.
    again = Definitions.from_specs(reversed(defs.specs()))
    assert again.specs() == defs.specs()
    assert [o.fingerprint() for o in again] == [o.fingerprint() for o in defs]
    # A second load (e.g. after an edit) starts from scratch.
    assert load_definitions(tmp_path / "features.py").specs() == defs.specs()


def test_get_suggests_close_names(tmp_path: Path) -> None:
    write(tmp_path, "entities.py", ENTITIES)
    defs = load_definitions(tmp_path / "entities.py")
    assert defs.get("entity", "driver").name == "driver"
    with pytest.raises(InvalidArgument, match="unknown entity 'drivers'; did you mean 'driver'"):
        defs.get("entity", "drivers")


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "features.py", "x = 1\ny = (\n")
    with pytest.raises(InvalidArgument) as info:
        load_definitions(tmp_path)
    assert f"{path}:2: SyntaxError" in info.value.message
    assert info.value.details == {"file": str(path), "line": 2}
    assert "Traceback" not in info.value.message


def test_bad_definition_names_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "features.py",
        """
        from griffin.features.definitions import Entity

        ok = Entity("ok")
        bad = Entity("bad name")
        """,
    )
    with pytest.raises(InvalidArgument) as info:
        load_definitions(path)
    message = info.value.message
    assert message.startswith(f"error in feature definitions {path}:5: InvalidArgument: ")
    assert "entity 'bad name': name 'bad name' is not a valid name" in message


def test_plain_exception_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "features.py", "import os\n\nos.environ['NOPE_GRIFFIN_X']\n")
    with pytest.raises(InvalidArgument, match=rf"{path}:3: KeyError: 'NOPE_GRIFFIN_X'"):
        load_definitions(tmp_path)


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "from griffin.features.definitions import Entity\nd = Entity('d')\n")
    write(
        tmp_path,
        "b.py",
        "from griffin.features.definitions import Entity\ne = Entity('d', ['k'])\n",
    )
    with pytest.raises(InvalidArgument) as info:
        load_definitions(tmp_path)
    assert "entity name 'd' is used twice: entity 'd' (a.py: d) and entity 'd' (b.py: e)" in str(
        info.value
    )


def test_identical_duplicates_are_one_object(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "from griffin.features.definitions import Entity\nd = Entity('d')\n")
    write(tmp_path, "b.py", "from griffin.features.definitions import Entity\nd = Entity('d')\n")
    assert len(load_definitions(tmp_path)) == 1


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="no feature definitions at"):
        load_definitions(tmp_path / "nope.py")


def test_definitions_collect_what_objects_use() -> None:
    driver = Entity("driver")
    view = FeatureView("v", [driver], [Feature("f", "int64")], ParquetSource("p", "ts"))
    service = FeatureService("s", [view])
    defs = Definitions([service])
    assert [o.name for o in defs] == ["driver", "v", "s"]
    other = FeatureView("v", [driver], [Feature("g", "int64")], ParquetSource("p", "ts"))
    with pytest.raises(InvalidArgument, match="view name 'v' is used twice"):
        Definitions([view, other])
    with pytest.raises(InvalidArgument, match="not a feature definition: str"):
        Definitions(["x"])  # type: ignore[list-item]


def test_from_specs_reports_unknown_references() -> None:
    driver = Entity("driver")
    view = FeatureView("v", [driver], [Feature("f", "int64")], ParquetSource("p", "ts"))
    with pytest.raises(InvalidArgument, match="unknown entity 'driver'; none is defined"):
        Definitions.from_specs([view.spec()])
    renamed = {**driver.spec(), "name": "drivers"}
    with pytest.raises(InvalidArgument, match="did you mean 'drivers'"):
        Definitions.from_specs([view.spec(), renamed])


def test_the_package_exports_every_definition_name_lazily() -> None:
    import subprocess
    import sys

    from griffin import features

    assert set(features.__all__) == set(features._WHERE)
    for name in features.__all__:
        assert getattr(features, name).__name__ == name
    # Importing the online stores alone must not pull in pandas via this package.
    code = "import sys, griffin.features.online; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
