"""A local Ray head for test modules beyond the launcher's (importable: tests/ is on the path).

``tests/launcher/test_launcher_ray.py`` defines the ``ray_head`` fixture (a real head on
127.0.0.1, with a job token) and ``ADMIN``. The tests are no package, so a module that needs
them loads that file as a module of its own, under its own name: its ``ray_head`` fixture
then starts, and stops, that module's head.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

from griffin.config import Settings, load_settings


def launcher_ray_tests(name: str) -> Any:
    """``test_launcher_ray.py`` loaded as module ``name``."""
    path = Path(__file__).parent / "launcher" / "test_launcher_ray.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def ray_settings(tmp_path: Path, sqlite_template: Path, ray_head: Any, **more: Any) -> Settings:
    """Settings of a fresh SQLite store under ``tmp_path`` whose jobs may run on ``ray_head``."""
    shutil.copy(sqlite_template, tmp_path / "griffin.db")
    return load_settings(
        environ={},
        cwd=tmp_path,
        home=str(tmp_path / "home"),
        database_url=f"sqlite:///{tmp_path / 'griffin.db'}",
        artifact_root=str(tmp_path / "artifacts"),
        job_poll_interval_s=0.2,
        ray_address=ray_head.address,
        ray_token=ray_head.token,
        **more,
    )
