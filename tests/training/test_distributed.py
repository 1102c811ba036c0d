"""Distributed training's pieces that need no Ray cluster: shards, trainer choice, code
archives, error unwrapping, and that Griffin's local path never imports Ray.

The distributed run itself (two Ray Train workers through the dispatcher) is in
``tests/launcher/test_launcher_ray.py``, on the same Ray head as the launcher's tests.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest

from griffin.training.context import TrainingContext
from griffin.training.distributed import _archive, _unpack, _user_exception, shard


def test_shards_cover_every_row_once_and_are_balanced() -> None:
    table = pa.table({"x": list(range(11))})
    parts = [shard(table, rank, 3) for rank in range(3)]
    assert [p.num_rows for p in parts] == [4, 4, 3]
    assert sorted(v for p in parts for v in p["x"].to_pylist()) == list(range(11))
    assert parts[1]["x"].to_pylist() == [1, 4, 7, 10]


def test_a_context_is_rank_0_of_1_unless_told() -> None:
    ctx = TrainingContext.for_testing(pa.table({"x": [1, 2]}))
    assert (ctx.rank, ctx.world_size) == (0, 1)


def test_code_travels_as_an_archive_and_stays_inside_its_folder(tmp_path: Path) -> None:
    source = tmp_path / "code"
    (source / "data").mkdir(parents=True)
    (source / "model.py").write_text("x = 1\n")
    (source / "data" / "rows.csv").write_text("a\n1\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "model.pyc").write_bytes(b"junk")
    target = tmp_path / "elsewhere" / "code"
    _unpack(_archive(source), target)
    assert (target / "model.py").read_text() == "x = 1\n"
    assert (target / "data" / "rows.csv").read_text() == "a\n1\n"
    assert not (target / "__pycache__").exists()


def test_the_users_exception_is_taken_from_the_lowest_failing_rank() -> None:
    original = ValueError("bad learning rate")
    wrapped = SimpleNamespace(_base_exc=original)
    error = RuntimeError("Training failed")
    error.worker_failures = {1: RuntimeError("other"), 0: wrapped}  # type: ignore[attr-defined]
    assert _user_exception(error) is original
    plain = RuntimeError("controller died")
    assert _user_exception(plain) is plain


def test_trainer_follows_the_runtime() -> None:
    pytest.importorskip("ray.train", reason="ray is not installed")
    from griffin.training.distributed import trainer_for

    assert trainer_for("sklearn-1").__name__ == "DataParallelTrainer"
    assert trainer_for(None).__name__ == "DataParallelTrainer"
    assert trainer_for("xgboost-1").__name__ == "XGBoostTrainer"
    assert trainer_for("lightgbm-1").__name__ == "LightGBMTrainer"
    assert trainer_for("pytorch-1").__name__ == "TorchTrainer"


def test_griffin_and_its_local_path_never_import_ray() -> None:
    code = (
        "import sys, griffin, griffin.plugins, griffin.launcher, griffin.launcher.local, "
        "griffin.training.runner, griffin.training.dispatcher, griffin.training.distributed, "
        "griffin.cli.main; "
        "from griffin.launcher import open_launcher; "
        "from griffin.config import load_settings; "
        "open_launcher('local', load_settings(environ={})); "
        "print([m for m in sys.modules if m == 'ray' or m.startswith('ray.')])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
