"""`griffin runtimes list|show`: tables, JSON, generated files and the environment check."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli_helpers import Invoke, assert_one_line_error

from griffin._version import __version__
from griffin.training.runtimes import dockerfile, get_runtime, requirements_txt

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
NUMPY = importlib.metadata.version("numpy")


def write_runtimes(folder: Path) -> Path:
    """A runtimes.toml with one runtime this environment satisfies and one it does not."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runtimes.toml").write_text(
        f"""
[runtimes.here-1]
description = "What this test environment has."
python = "{HERE}"
packages = ["numpy=={NUMPY}"]

[runtimes.broken-1]
description = "Something this environment lacks."
python = "{HERE}"
packages = ["numpy=={NUMPY}", "griffin-no-such-package==1.0", "numpy-not-really==2.0"]
"""
    )
    return folder


def test_list(cli: Invoke) -> None:
    result = cli("runtimes", "list")
    assert result.exit_code == 0, result.output
    for name in ("sklearn-1", "xgboost-1", "lightgbm-1", "pytorch-1"):
        assert name in result.stdout
    assert "torch==2.13.0" in result.stdout
    assert "xgboost-cpu==3.2.0" in result.stdout


def test_list_json(cli_json: Callable[..., Any]) -> None:
    found = cli_json("runtimes", "list")
    assert [r["name"] for r in found] == ["lightgbm-1", "pytorch-1", "sklearn-1", "xgboost-1"]
    torch = found[1]
    assert torch["python"] == "3.11"
    assert torch["image"] == "python:3.11-slim"
    assert torch["indexes"] == {"torch": "https://download.pytorch.org/whl/cpu"}
    assert f"griffin-ml=={__version__}" in torch["packages"]
    assert torch["source"] == "builtin"


def test_list_reads_runtimes_toml_here_or_in_dir(
    cli: Invoke, cli_json: Callable[..., Any], tmp_path: Path
) -> None:
    write_runtimes(Path())
    assert "here-1" in cli("runtimes", "list").stdout
    folder = write_runtimes(tmp_path / "project")
    found = cli_json("runtimes", "list", "--dir", str(folder))
    assert {r["name"] for r in found} >= {"here-1", "broken-1", "sklearn-1"}
    assert next(r for r in found if r["name"] == "here-1")["source"] == str(
        folder / "runtimes.toml"
    )


def test_show(cli: Invoke) -> None:
    result = cli("runtimes", "show", "pytorch-1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "python:3.11-slim" in out
    assert "torch==2.13.0" in out
    assert "https://download.pytorch.org/whl/cpu" in out
    assert "PyPI" in out


def test_show_json(cli_json: Callable[..., Any]) -> None:
    shown = cli_json("runtimes", "show", "xgboost-1")
    assert "xgboost-cpu==3.2.0" in shown["packages"]
    assert "dockerfile" not in shown
    assert "check" not in shown
    everything = cli_json(
        "runtimes", "show", "sklearn-1", "--dockerfile", "--requirements", "--check"
    )
    assert everything["dockerfile"] == dockerfile(get_runtime("sklearn-1"))
    assert everything["requirements"] == requirements_txt(get_runtime("sklearn-1"))
    assert set(everything["check"]) >= {"ok", "missing", "fix", "packages", "python_ok"}


def test_show_dockerfile_and_requirements_print_only_the_file(cli: Invoke) -> None:
    result = cli("runtimes", "show", "pytorch-1", "--dockerfile")
    assert result.exit_code == 0, result.output
    assert result.stdout == dockerfile(get_runtime("pytorch-1"))
    assert result.stderr == ""
    result = cli("runtimes", "show", "lightgbm-1", "--requirements")
    assert result.exit_code == 0, result.output
    assert result.stdout == requirements_txt(get_runtime("lightgbm-1"))


def test_check_satisfied(cli: Invoke) -> None:
    write_runtimes(Path())
    result = cli("runtimes", "show", "here-1", "--check")
    assert result.exit_code == 0, result.output
    assert "numpy" in result.stdout
    assert "ok" in result.stdout
    assert result.stderr.strip() == "the current environment satisfies runtime 'here-1'"


def test_check_not_satisfied_exits_1_with_the_report(cli: Invoke, tmp_path: Path) -> None:
    folder = write_runtimes(tmp_path / "p")
    result = cli("runtimes", "show", "broken-1", "--check", "--dir", str(folder))
    assert result.exit_code == 1, result.output
    assert "MISSING" in result.stdout
    assert "griffin-no-such-package" in result.stdout
    assert result.stderr.strip() == (
        "the current environment does not satisfy runtime 'broken-1': "
        "griffin-no-such-package: not installed, runtime needs ==1.0; "
        "numpy-not-really: not installed, runtime needs ==2.0; "
        "fix: pip install griffin-no-such-package==1.0 numpy-not-really==2.0"
    )


def test_check_json_not_satisfied(cli: Invoke, tmp_path: Path) -> None:
    folder = write_runtimes(tmp_path / "p")
    result = cli("runtimes", "show", "broken-1", "--check", "--json", "--dir", str(folder))
    assert result.exit_code == 1, result.output
    check = json.loads(result.stdout)["check"]
    assert check["ok"] is False
    assert check["missing"] == ["griffin-no-such-package", "numpy-not-really"]
    assert check["fix"] == "pip install griffin-no-such-package==1.0 numpy-not-really==2.0"
    numpy = next(p for p in check["packages"] if p["name"] == "numpy")
    assert numpy == {
        "requirement": f"numpy=={NUMPY}",
        "name": "numpy",
        "required": f"=={NUMPY}",
        "installed": NUMPY,
        "satisfied": True,
        "provided_by": None,
        "via": None,
        "index": None,
    }


def test_unknown_runtime_is_one_line(cli: Invoke) -> None:
    result = cli("runtimes", "show", "pytorch1")
    assert_one_line_error(result, "unknown runtime 'pytorch1'", "did you mean 'pytorch-1'?")


def test_bad_runtimes_toml_is_one_line(cli: Invoke) -> None:
    Path("runtimes.toml").write_text('[runtimes.x-1]\npython = "3.11"\npackages = ["torch"]\n')
    result = cli("runtimes", "list")
    assert_one_line_error(result, "runtimes.toml", "'torch' is not pinned")


def test_one_file_at_a_time_without_json(cli: Invoke) -> None:
    result = cli("runtimes", "show", "sklearn-1", "--dockerfile", "--requirements")
    assert result.exit_code == 2
    assert "give one of --dockerfile, --requirements or --check" in result.stderr
