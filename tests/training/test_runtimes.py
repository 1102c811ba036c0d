"""Standard runtimes: the built-in catalog, runtimes.toml, generated files, environment checks."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from griffin._version import __version__
from griffin.errors import ConfigError, InvalidArgument
from griffin.training import runtimes as rt
from griffin.training.runtimes import (
    PYTORCH_CPU_INDEX,
    Runtime,
    check_environment,
    dockerfile,
    get_runtime,
    list_runtimes,
    load_runtimes,
    requirements_txt,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
NUMPY = importlib.metadata.version("numpy")
PACKAGING = importlib.metadata.version("packaging")


def pins(runtime: Runtime) -> dict[str, str]:
    """Package name -> pinned version."""
    found = {}
    for text in runtime.packages:
        requirement = Requirement(text)
        (spec,) = requirement.specifier
        assert spec.operator == "==", text
        found[requirement.name] = spec.version
    return found


# The catalog


def test_builtin_names() -> None:
    assert [r.name for r in list_runtimes()] == [
        "lightgbm-1",
        "pytorch-1",
        "sklearn-1",
        "xgboost-1",
    ]


@pytest.mark.parametrize("name", sorted(rt.BUILTIN_RUNTIMES))
def test_builtins_are_pinned_python_311_and_include_griffin(name: str) -> None:
    runtime = get_runtime(name)
    assert runtime.python == "3.11"
    assert runtime.source == "builtin"
    assert not runtime.gpu
    assert runtime.description
    for text in runtime.packages:
        assert rt._pin_problem(text) is None
    assert pins(runtime)["griffin-ml"] == __version__
    assert {"numpy", "pandas", "pyarrow"} <= set(pins(runtime))


@pytest.mark.parametrize("name", sorted(rt.BUILTIN_RUNTIMES))
def test_builtins_meet_griffins_own_dependency_floors(name: str) -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    pinned = pins(get_runtime(name))
    checked = 0
    for text in declared:
        requirement = Requirement(text)
        if requirement.name in pinned:
            assert requirement.specifier.contains(pinned[requirement.name]), (text, name)
            checked += 1
    assert checked >= 3


def test_framework_pins() -> None:
    assert "torch==2.13.0" in get_runtime("pytorch-1").packages
    assert dict(get_runtime("pytorch-1").indexes) == {"torch": PYTORCH_CPU_INDEX}
    assert pins(get_runtime("sklearn-1"))["scikit-learn"] == "1.9.1"
    assert pins(get_runtime("lightgbm-1"))["lightgbm"] == "4.7.0"
    xgboost = pins(get_runtime("xgboost-1"))
    assert xgboost["xgboost-cpu"] == "3.2.0"
    assert "xgboost" not in xgboost  # the plain wheel pulls ~0.5 GB of NCCL


def test_no_builtin_leaves_torch_unpinned_or_pulls_plain_xgboost() -> None:
    for runtime in list_runtimes():
        for text in runtime.packages:
            requirement = Requirement(text)
            assert requirement.name != "xgboost"
            if requirement.name == "torch":
                assert str(requirement.specifier) == "==2.13.0"
                assert runtime.index_for(text) == PYTORCH_CPU_INDEX


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(InvalidArgument) as caught:
        get_runtime("sklearn1")
    assert (
        caught.value.headline == "runtimes: unknown runtime 'sklearn1'; did you mean 'sklearn-1'?"
    )
    assert caught.value.details["close_matches"] == ["sklearn-1"]
    with pytest.raises(InvalidArgument, match="known: 'lightgbm-1', 'pytorch-1'"):
        get_runtime("zzz")


# Generated files


def test_dockerfile_for_sklearn() -> None:
    text = dockerfile(get_runtime("sklearn-1"))
    lines = text.splitlines()
    assert lines[0].startswith("# Griffin runtime sklearn-1: ")
    assert "FROM python:3.11-slim" in lines
    assert text.count("RUN pip install --no-cache-dir") == 1
    for requirement in get_runtime("sklearn-1").packages:
        assert f'"{requirement}"' in text
    assert "--index-url" not in text
    # The packages go in as root, then everything runs as an unprivileged user.
    assert lines.index("RUN useradd --create-home --uid 10001 griffin") > lines.index(
        "RUN pip install --no-cache-dir \\"
    )
    assert lines[-5:] == [
        "RUN useradd --create-home --uid 10001 griffin",
        "WORKDIR /app",
        "COPY --chown=griffin:griffin . /app",
        "USER griffin",
        'ENTRYPOINT ["python", "-m", "griffin.runtime"]',
    ]


def test_dockerfile_installs_torch_from_the_cpu_index_only() -> None:
    text = dockerfile(get_runtime("pytorch-1"))
    torch_step = (
        "# PyTorch's CPU-only index: the PyPI wheel pulls CUDA (several GB).\n"
        f"RUN pip install --no-cache-dir --index-url {PYTORCH_CPU_INDEX} \\\n"
        '        "torch==2.13.0"\n'
        "RUN pip install --no-cache-dir \\\n"
        f'        "griffin-ml=={__version__}" \\\n'
    )
    assert torch_step in text
    assert text.count("torch==2.13.0") == 1
    assert text.count("--index-url") == 1


def test_dockerfile_custom_base_image_and_index() -> None:
    runtime = Runtime(
        "cuda-1",
        "A GPU image.",
        "3.11",
        ("numpy==2.0.0", "mylib==1.0"),
        gpu=True,
        base_image="nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        indexes={"MyLib": "https://pypi.example.com/simple"},
    )
    text = dockerfile(runtime)
    assert "FROM nvidia/cuda:12.4.1-runtime-ubuntu22.04\n" in text
    assert "# From https://pypi.example.com/simple, not PyPI.\n" in text
    assert "--index-url https://pypi.example.com/simple \\\n" in text


def test_requirements_txt() -> None:
    assert requirements_txt(get_runtime("lightgbm-1")) == (
        "# Griffin runtime lightgbm-1 (Python 3.11)\n"
        f"griffin-ml=={__version__}\n"
        "lightgbm==4.7.0\n"
        "scikit-learn==1.9.1\n"
        "numpy==2.4.6\n"
        "pandas==3.1.1\n"
        "pyarrow==26.0.1\n"
        "scipy==1.17.1\n"
    )
    torch = requirements_txt(get_runtime("pytorch-1")).splitlines()
    assert torch[1] == (
        f"# first: pip install --index-url {PYTORCH_CPU_INDEX} torch==2.13.0"
        "  (then -r this file: the installed torch satisfies its pin)"
    )
    assert "torch==2.13.0" in torch[2:]


# Project-local runtimes.toml

RUNTIMES_TOML = """
[runtimes.sklearn-1]
description = "Our older scikit-learn."
python = "3.11"
packages = ["scikit-learn==1.8.0", "numpy==2.3.5"]

[runtimes.fraud-2]
description = "The fraud team's stack."
python = "3.12"
packages = ["torch==2.13.0", "numpy==2.4.6"]
gpu = true
base_image = "pytorch/pytorch:2.13.0-cuda12.4-cudnn9-runtime"
indexes = { torch = "https://download.pytorch.org/whl/cu124" }
notes = "Needs a GPU node."
"""


def test_runtimes_toml_adds_and_replaces(tmp_path: Path) -> None:
    (tmp_path / "runtimes.toml").write_text(RUNTIMES_TOML)
    found = load_runtimes(tmp_path)
    assert sorted(found) == ["fraud-2", "lightgbm-1", "pytorch-1", "sklearn-1", "xgboost-1"]
    assert found["sklearn-1"].packages == ("scikit-learn==1.8.0", "numpy==2.3.5")
    assert found["sklearn-1"].source == str(tmp_path / "runtimes.toml")
    fraud = get_runtime("fraud-2", tmp_path)
    assert fraud.gpu
    assert fraud.python == "3.12"
    assert fraud.image == "pytorch/pytorch:2.13.0-cuda12.4-cudnn9-runtime"
    assert fraud.index_for("torch==2.13.0") == "https://download.pytorch.org/whl/cu124"
    assert fraud.notes == "Needs a GPU node."
    # The built-ins stay untouched, and a folder without the file gives just them.
    assert rt.BUILTIN_RUNTIMES["sklearn-1"].source == "builtin"
    assert load_runtimes(tmp_path / "elsewhere") == rt.BUILTIN_RUNTIMES
    assert list_runtimes(tmp_path)[0].name == "fraud-2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[runtimes.x-1]\npython = "3.11"\npackages = ["torch"]', "'torch' is not pinned"),
        (
            '[runtimes.x-1]\npython = "3.11"\npackages = ["torch>=2.13"]',
            "write an exact version, such as torch==1.2.3",
        ),
        ('[runtimes.x-1]\npython = "3.11"\npackages = ["numpy==2.*"]', "is not pinned"),
        ('[runtimes.x-1]\npython = "3.11"\npackages = ["!!"]', "is not a valid requirement"),
        ('[runtimes.x-1]\npython = "3.11"\npackages = []', "non-empty list"),
        ('[runtimes.x-1]\npython = "3"\npackages = ["a==1"]', "python must be a version"),
        ('[runtimes.x-1]\npython = "3.11"\npackages = ["a==1"]\ncuda = 1', "unknown key 'cuda'"),
        ('[runtimes.x-1]\npython = "3.11"\npackages = ["a==1"]\ngpu = "yes"', "gpu must be"),
        ('[runtimes.X]\npython = "3.11"\npackages = ["a==1"]', "runtime 'X': a name is"),
        ('[runtime.x-1]\npython = "3.11"', "unknown key 'runtime'"),
        ("[runtimes", "invalid TOML"),
    ],
)
def test_runtimes_toml_mistakes(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "runtimes.toml").write_text(body)
    with pytest.raises(ConfigError, match=r"runtimes\.toml") as caught:
        load_runtimes(tmp_path)
    assert message in caught.value.headline


# Checking the environment


def test_check_satisfied_environment() -> None:
    runtime = Runtime("here-1", "", HERE, (f"numpy=={NUMPY}", f"packaging=={PACKAGING}"))
    report = check_environment(runtime)
    assert report.ok
    assert report.python_ok
    assert report.missing == ()
    assert [(p.name, p.installed, p.satisfied) for p in report.packages] == [
        ("numpy", NUMPY, True),
        ("packaging", PACKAGING, True),
    ]
    assert report.fix_command() == ""
    assert report.summary() == "the current environment satisfies runtime 'here-1'"
    report.raise_for_mismatch()  # nothing to raise


def test_check_missing_and_wrong_version_message() -> None:
    runtime = Runtime(
        "broken-1",
        "",
        HERE,
        (f"numpy=={NUMPY}", "griffin-no-such-package==1.0", "packaging==0.1"),
    )
    report = check_environment(runtime)
    assert not report.ok
    assert [(p.name, p.installed) for p in report.missing] == [
        ("griffin-no-such-package", None),
        ("packaging", PACKAGING),
    ]
    expected = (
        "the current environment does not satisfy runtime 'broken-1': "
        "griffin-no-such-package: not installed, runtime needs ==1.0; "
        f"packaging: {PACKAGING} installed, runtime needs ==0.1; "
        "fix: pip install griffin-no-such-package==1.0 packaging==0.1"
    )
    with pytest.raises(InvalidArgument) as caught:
        report.raise_for_mismatch()
    assert caught.value.message == expected
    assert caught.value.headline == expected
    assert caught.value.details["missing"] == [
        {"name": "griffin-no-such-package", "required": "==1.0", "installed": None},
        {"name": "packaging", "required": "==0.1", "installed": PACKAGING},
    ]
    assert caught.value.details["fix"] == "pip install griffin-no-such-package==1.0 packaging==0.1"


def test_check_wrong_python_and_index_in_the_fix() -> None:
    other = f"3.{sys.version_info.minor + 1}"
    runtime = Runtime(
        "torchy-1",
        "",
        other,
        ("griffin-no-such-torch==2.13.0", "griffin-ml[sklearn]==0.0.1"),
        indexes={"griffin-no-such-torch": PYTORCH_CPU_INDEX},
    )
    report = check_environment(runtime)
    assert not report.python_ok
    assert report.summary() == (
        "the current environment does not satisfy runtime 'torchy-1': "
        f"python: {'.'.join(map(str, sys.version_info[:3]))} running, runtime needs {other} "
        f"(use a Python {other} environment); "
        "griffin-no-such-torch: not installed, runtime needs ==2.13.0; "
        f"griffin-ml: {__version__} installed, runtime needs ==0.0.1; "
        f"fix: pip install --index-url {PYTORCH_CPU_INDEX} griffin-no-such-torch==2.13.0"
        " && pip install 'griffin-ml[sklearn]==0.0.1'"
    )


def test_python_alone_can_fail_the_check() -> None:
    runtime = Runtime("old-1", "", "3.9", (f"numpy=={NUMPY}",))
    report = check_environment(runtime)
    assert not report.ok
    assert report.missing == ()
    with pytest.raises(InvalidArgument, match=r"runtime needs 3\.9 \(use a Python 3\.9"):
        report.raise_for_mismatch()


def test_local_version_labels_satisfy_a_pin(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch from the CPU index is 2.13.0+cpu: it satisfies torch==2.13.0."""
    fake = {"torch": "2.13.0+cpu"}
    monkeypatch.setattr(rt.importlib.metadata, "version", _fake_version(fake))
    report = check_environment(Runtime("t", "", HERE, ("torch==2.13.0",)))
    assert report.ok
    assert report.packages[0].installed == "2.13.0+cpu"


def test_plain_xgboost_stands_in_for_xgboost_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rt.importlib.metadata, "version", _fake_version({"xgboost": "3.2.0"}))
    ok = check_environment(Runtime("x", "", HERE, ("xgboost-cpu==3.2.0",)))
    assert ok.ok
    assert ok.packages[0].provided_by == "xgboost"
    wrong = check_environment(Runtime("x", "", HERE, ("xgboost-cpu==3.1.0",)))
    assert wrong.missing[0].problem == (
        "xgboost-cpu: 3.2.0 installed (as xgboost), runtime needs ==3.1.0"
    )


def test_extras_are_checked_unless_pinned_directly() -> None:
    report = check_environment(Runtime("x", "", HERE, (f"griffin-ml[sklearn]=={__version__}",)))
    via = [p for p in report.packages if p.via]
    assert [(p.name, p.via, p.satisfied) for p in via] == [
        ("scikit-learn", f"griffin-ml[sklearn]=={__version__}", True)
    ]
    pinned = check_environment(
        Runtime("x", "", HERE, (f"griffin-ml[sklearn]=={__version__}", "scikit-learn==0.1"))
    )
    assert [p.name for p in pinned.packages] == ["griffin-ml", "scikit-learn"]
    assert pinned.missing[0].problem.startswith("scikit-learn: ")


def test_requirements_for_another_platform_are_skipped() -> None:
    runtime = Runtime("x", "", HERE, ("griffin-no-such-package==1.0; python_version < '3.0'",))
    report = check_environment(runtime)
    assert report.ok
    assert report.packages == ()


def _fake_version(installed: dict[str, str]):  # type: ignore[no-untyped-def]
    def version(name: str) -> str:
        if name in installed:
            return installed[name]
        raise importlib.metadata.PackageNotFoundError(name)

    return version


def test_constraints_file_pins_what_the_runtimes_pin() -> None:
    """`make install-dev` installs with constraints.txt: it must agree with every runtime."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from griffin.training.runtimes import BUILTIN_RUNTIMES

    root = Path(__file__).resolve().parents[2]
    constraints = {}
    for line in (root / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            constraints[canonicalize_name(requirement.name)] = str(requirement.specifier)
    pinned = {}
    for runtime in BUILTIN_RUNTIMES.values():
        for text in runtime.packages:
            requirement = Requirement(text)
            name = canonicalize_name(requirement.name)
            if name != "griffin-ml":
                pinned[name] = str(requirement.specifier)
    assert constraints == pinned
