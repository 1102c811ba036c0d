"""Standard runtimes: named, pinned environments that models train and serve in.

Griffin 1.0 let every project build its own environment; a runtime is the shared, named fix.
Each one fixes a Python version and exact package pins; ``dockerfile()`` turns it into an image
and ``check_environment()`` tells the local backend exactly what the current one lacks. The
built-ins live in code; a project adds or replaces runtimes in a ``runtimes.toml`` file.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from griffin._version import __version__
from griffin.errors import ConfigError, InvalidArgument
from griffin.features.common import unknown_name

__all__ = [
    "BUILTIN_RUNTIMES",
    "PYTORCH_CPU_INDEX",
    "RUNTIMES_FILE",
    "EnvironmentReport",
    "PackageCheck",
    "Runtime",
    "check_environment",
    "dockerfile",
    "get_runtime",
    "list_runtimes",
    "load_runtimes",
    "requirements_txt",
]

RUNTIMES_FILE = "runtimes.toml"
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_PYTHON = re.compile(r"3\.\d{1,2}")
_FIELDS = {"description", "python", "packages", "gpu", "base_image", "indexes", "notes"}
# A distribution that provides the same modules: plain `xgboost` is a superset of `xgboost-cpu`.
_EQUIVALENT = {"xgboost-cpu": ("xgboost",)}


@dataclass(frozen=True)
class Runtime:
    """A named environment: a Python version, exact pins, and where unusual wheels come from.

    ``indexes`` maps a package name to the index it must be installed from instead of PyPI
    (torch's CPU-only build); ``source`` is ``builtin`` or the runtimes.toml that defined it.
    """

    name: str
    description: str
    python: str
    packages: tuple[str, ...]
    gpu: bool = False
    base_image: str = ""
    indexes: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""
    source: str = "builtin"

    @property
    def image(self) -> str:
        """The Docker base image: ``base_image`` or the official slim Python image."""
        return self.base_image or f"python:{self.python}-slim"

    def index_for(self, requirement: str) -> str | None:
        """The index a requirement must come from, or None for PyPI."""
        name = canonicalize_name(Requirement(requirement).name)
        return next((u for p, u in self.indexes.items() if canonicalize_name(p) == name), None)


def _griffin() -> str:
    return f"griffin-ml=={__version__}"


# Pins tested together on Python 3.11 (and above Griffin's own floors: numpy>=1.26,
# pandas>=2.1, pyarrow>=15). Change a pin by adding a new runtime (`sklearn-2`), never by
# editing one in place: models and their lineage name these.
_DATA = ("numpy==2.4.6", "pandas==3.1.1", "pyarrow==26.0.1", "scipy==1.17.1")
BUILTIN_RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime(
            name="sklearn-1",
            description="scikit-learn 1.9 on the pandas/NumPy/Arrow stack, CPU only.",
            python="3.11",
            packages=(_griffin(), "scikit-learn==1.9.1", *_DATA),
        ),
        Runtime(
            name="xgboost-1",
            description="XGBoost 3.2 (the CPU-only xgboost-cpu wheel) with scikit-learn.",
            python="3.11",
            packages=(_griffin(), "xgboost-cpu==3.2.0", "scikit-learn==1.9.1", *_DATA),
            notes="xgboost-cpu, not xgboost: the plain wheel pulls ~0.5 GB of NCCL for GPUs. "
            "An environment with plain xgboost at the same version also satisfies it.",
        ),
        Runtime(
            name="lightgbm-1",
            description="LightGBM 4.7 with scikit-learn, CPU only.",
            python="3.11",
            packages=(_griffin(), "lightgbm==4.7.0", "scikit-learn==1.9.1", *_DATA),
        ),
        Runtime(
            name="pytorch-1",
            description="PyTorch 2.13 (CPU build) on the pandas/NumPy/Arrow stack.",
            python="3.11",
            packages=(_griffin(), "torch==2.13.0", *_DATA),
            indexes={"torch": PYTORCH_CPU_INDEX},
            notes="torch comes from PyTorch's CPU-only index: the PyPI wheel pulls CUDA "
            "libraries (several GB). Never leave torch unpinned.",
        ),
    )
}


def _fail(path: Path, name: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: runtime {name!r}: {message}")


def _runtime_from_toml(path: Path, name: str, table: Any) -> Runtime:
    """One ``[runtimes.NAME]`` table as a Runtime; every field checked, unknown keys refused."""
    if not _NAME.fullmatch(name):
        raise _fail(path, name, "a name is 1 to 64 lower-case letters, digits, '.', '_' or '-'")
    if not isinstance(table, dict):
        raise _fail(path, name, "must be a table ([runtimes.NAME])")
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise _fail(path, name, f"unknown key {unknown[0]!r}; known: {', '.join(sorted(_FIELDS))}")
    python = table.get("python")
    if not isinstance(python, str) or not _PYTHON.fullmatch(python):
        raise _fail(path, name, f'python must be a version such as "3.11", got {python!r}')
    packages = table.get("packages")
    if not isinstance(packages, list) or not packages:
        raise _fail(path, name, "packages must be a non-empty list of pinned requirements")
    for item in packages:
        problem = _pin_problem(item)
        if problem:
            raise _fail(path, name, problem)
    indexes = table.get("indexes", {})
    if not isinstance(indexes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in indexes.items()
    ):
        raise _fail(path, name, "indexes must be a table of package = index URL")
    strings = {k: table.get(k, "") for k in ("description", "base_image", "notes")}
    for key, value in strings.items():
        if not isinstance(value, str):
            raise _fail(path, name, f"{key} must be a string")
    gpu = table.get("gpu", False)
    if not isinstance(gpu, bool):
        raise _fail(path, name, "gpu must be true or false")
    return Runtime(
        name=name,
        python=python,
        packages=tuple(packages),
        gpu=gpu,
        indexes=dict(indexes),
        source=str(path),
        **strings,
    )


def _pin_problem(item: object) -> str | None:
    """Why a requirement is not an exact pin (``name==version``), or None when it is."""
    if not isinstance(item, str):
        return f"packages must be strings, got {item!r}"
    try:
        requirement = Requirement(item)
    except InvalidRequirement as exc:
        return f"{item!r} is not a valid requirement: {exc}"
    specs = list(requirement.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return f"{item!r} is not pinned: write an exact version, such as {requirement.name}==1.2.3"
    return None


def load_runtimes(project_dir: Path | str | None = None) -> dict[str, Runtime]:
    """The built-ins, plus those of ``project_dir/runtimes.toml`` (which win on a name)."""
    runtimes = dict(BUILTIN_RUNTIMES)
    if project_dir is None:
        return runtimes
    path = Path(project_dir) / RUNTIMES_FILE
    if not path.is_file():
        return runtimes
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    extra = sorted(set(data) - {"runtimes"})
    if extra:
        raise ConfigError(f"{path}: unknown key {extra[0]!r}; define runtimes as [runtimes.NAME]")
    tables = data.get("runtimes", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: runtimes must be tables, [runtimes.NAME]")
    for name, table in tables.items():
        runtimes[name] = _runtime_from_toml(path, name, table)
    return runtimes


def list_runtimes(project_dir: Path | str | None = None) -> list[Runtime]:
    """Every runtime known here, by name."""
    return sorted(load_runtimes(project_dir).values(), key=lambda r: r.name)


def get_runtime(name: str, project_dir: Path | str | None = None) -> Runtime:
    """One runtime by name; an unknown name is an InvalidArgument naming the close matches."""
    runtimes = load_runtimes(project_dir)
    if name not in runtimes:
        raise unknown_name("runtimes", "runtime", name, runtimes)
    return runtimes[name]


def requirements_txt(runtime: Runtime) -> str:
    """A pip requirements file with the runtime's pins (its special indexes as comments)."""
    lines = [f"# Griffin runtime {runtime.name} (Python {runtime.python})"]
    for requirement in runtime.packages:
        index = runtime.index_for(requirement)
        if index:
            lines.append(
                f"# first: pip install --index-url {index} {shlex.quote(requirement)}"
                f"  (then -r this file: the installed {Requirement(requirement).name} "
                "satisfies its pin)"
            )
    lines.extend(runtime.packages)
    return "\n".join(lines) + "\n"


def _pip_lines(requirements: list[str], options: str = "") -> str:
    args = " \\\n        ".join(f'"{r}"' for r in requirements)
    return f"RUN pip install --no-cache-dir{options} \\\n        {args}\n"


def dockerfile(runtime: Runtime) -> str:
    """A Dockerfile for the runtime: pinned installs, a non-root user, the project in /app."""
    parts = [
        f"# Griffin runtime {runtime.name}: {runtime.description}\n"
        f"# Generated by `griffin runtimes show {runtime.name} --dockerfile`: regenerate it, "
        "do not edit it.\n"
        f"FROM {runtime.image}\n\n"
        "ENV PYTHONDONTWRITEBYTECODE=1 \\\n"
        "    PYTHONUNBUFFERED=1 \\\n"
        "    PIP_DISABLE_PIP_VERSION_CHECK=1\n\n"
    ]
    by_index: dict[str, list[str]] = {}
    plain: list[str] = []
    for requirement in runtime.packages:
        index = runtime.index_for(requirement)
        (by_index.setdefault(index, []) if index else plain).append(requirement)
    for index, requirements in by_index.items():
        if index == PYTORCH_CPU_INDEX:
            parts.append("# PyTorch's CPU-only index: the PyPI wheel pulls CUDA (several GB).\n")
        else:
            parts.append(f"# From {index}, not PyPI.\n")
        parts.append(_pip_lines(requirements, f" --index-url {index}"))
    if plain:
        parts.append(_pip_lines(plain))
    parts.append(
        "\nRUN useradd --create-home --uid 10001 griffin\n"
        "WORKDIR /app\n"
        "COPY --chown=griffin:griffin . /app\n"
        "USER griffin\n"
        'ENTRYPOINT ["python", "-m", "griffin.runtime"]\n'
    )
    return "".join(parts)


@dataclass(frozen=True)
class PackageCheck:
    """One requirement against the current environment."""

    requirement: str
    name: str
    required: str
    installed: str | None
    satisfied: bool
    provided_by: str | None = None
    via: str | None = None
    index: str | None = None

    @property
    def problem(self) -> str:
        """What is wrong, for people: ``numpy: 2.4.6 installed, runtime needs ==1.26.4``."""
        needs = self.required or "any version"
        where = f" (for {self.via})" if self.via else ""
        if self.installed is None:
            return f"{self.name}: not installed, runtime needs {needs}{where}"
        found = f" (as {self.provided_by})" if self.provided_by else ""
        return f"{self.name}: {self.installed} installed{found}, runtime needs {needs}{where}"


@dataclass(frozen=True)
class EnvironmentReport:
    """How the running environment compares with a runtime, requirement by requirement."""

    runtime: str
    python_required: str
    python_installed: str
    python_ok: bool
    packages: tuple[PackageCheck, ...]

    @property
    def missing(self) -> tuple[PackageCheck, ...]:
        """The requirements absent or at the wrong version."""
        return tuple(p for p in self.packages if not p.satisfied)

    @property
    def ok(self) -> bool:
        """True when the Python version and every requirement match."""
        return self.python_ok and not self.missing

    def fix_command(self) -> str:
        """The pip command(s) that install what is missing, or "" when nothing is."""
        commands: dict[str | None, list[str]] = {}
        for check in self.missing:
            target = check.requirement if check.via is None else f"{check.name}{check.required}"
            commands.setdefault(check.index, []).append(shlex.quote(target))
        return " && ".join(
            "pip install " + (f"--index-url {index} " if index else "") + " ".join(targets)
            for index, targets in sorted(commands.items(), key=lambda kv: kv[0] is None)
        )

    def summary(self) -> str:
        """One line: all good, or each problem and the fix."""
        if self.ok:
            return f"the current environment satisfies runtime {self.runtime!r}"
        problems = [p.problem for p in self.missing]
        if not self.python_ok:
            problems.insert(
                0,
                f"python: {self.python_installed} running, runtime needs {self.python_required}"
                f" (use a Python {self.python_required} environment)",
            )
        line = f"the current environment does not satisfy runtime {self.runtime!r}: " + "; ".join(
            problems
        )
        fix = self.fix_command()
        return line + (f"; fix: {fix}" if fix else "")

    def raise_for_mismatch(self) -> None:
        """Raise InvalidArgument listing every mismatch and the pip command that fixes them."""
        if not self.ok:
            raise InvalidArgument(
                self.summary(),
                details={
                    "runtime": self.runtime,
                    "python": {
                        "required": self.python_required,
                        "installed": self.python_installed,
                    },
                    "missing": [
                        {"name": p.name, "required": p.required, "installed": p.installed}
                        for p in self.missing
                    ],
                    "fix": self.fix_command(),
                },
            )


def _installed(name: str) -> tuple[str | None, str | None]:
    """(version, distribution) of ``name`` or of an equivalent distribution; (None, None)."""
    for candidate in (name, *_EQUIVALENT.get(canonicalize_name(name), ())):
        try:
            return importlib.metadata.version(candidate), candidate
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def _check(requirement: Requirement, text: str, index: str | None, via: str | None) -> PackageCheck:
    version, dist = _installed(requirement.name)
    same = dist is None or canonicalize_name(dist) == canonicalize_name(requirement.name)
    return PackageCheck(
        requirement=text,
        name=requirement.name,
        required=str(requirement.specifier),
        installed=version,
        satisfied=version is not None and requirement.specifier.contains(version, prereleases=True),
        provided_by=None if same else dist,
        via=via,
        index=index,
    )


def _extra_requirements(requirement: Requirement) -> list[Requirement]:
    """What ``pkg[extra]`` adds over ``pkg``, read from the installed package's metadata."""
    if not requirement.extras:
        return []
    try:
        declared = importlib.metadata.requires(requirement.name) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    found: list[Requirement] = []
    for line in declared:
        dependency = Requirement(line)
        marker = dependency.marker
        if marker is None or marker.evaluate({"extra": ""}):
            continue
        if any(marker.evaluate({"extra": extra}) for extra in requirement.extras):
            found.append(dependency)
    return found


def check_environment(runtime: Runtime) -> EnvironmentReport:
    """Compare the running Python and installed packages with ``runtime``; nothing is changed."""
    python = ".".join(str(p) for p in sys.version_info[:3])
    checks: list[PackageCheck] = []
    direct = {canonicalize_name(Requirement(r).name) for r in runtime.packages}
    for text in runtime.packages:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue  # not needed on this platform
        checks.append(_check(requirement, text, runtime.index_for(text), None))
        for dependency in _extra_requirements(requirement):
            if canonicalize_name(dependency.name) in direct:
                continue  # the runtime pins it itself
            dependency.marker = None
            checks.append(_check(dependency, str(dependency), None, text))
    return EnvironmentReport(
        runtime=runtime.name,
        python_required=runtime.python,
        python_installed=python,
        python_ok=f"{sys.version_info[0]}.{sys.version_info[1]}" == runtime.python,
        packages=tuple(checks),
    )
