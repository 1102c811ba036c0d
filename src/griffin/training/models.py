"""Model definitions in a project's Python files: the ``@griffin.model`` decorator and loading.

::

    import griffin

    @griffin.model(name="delivery_eta", runtime="sklearn-1", features="eta_service",
                   target="eta_minutes", task="regression", params={"max_depth": 6})
    def train(ctx):
        ...

The decorated function stays callable as before and carries its definition. :func:`load_models`
imports a project's ``model.py`` and collects the definitions; a mistake in the user's file
comes back as an ``InvalidArgument`` naming the file and line, never as a traceback. The entry
point of a definition is ``<path relative to the project root>:<function>``;
:func:`resolve_entry` imports it again from an extracted code package.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FunctionType, ModuleType
from typing import Any, overload

from griffin.domain.model_definitions import JsonScalar, ModelDefinitionSpec, check_entry
from griffin.errors import InvalidArgument
from griffin.usercode import import_file

__all__ = ["ModelFunction", "ProjectModels", "load_models", "model", "resolve_entry"]

DEFAULT_FILE = "model.py"


class ModelFunction:
    """A train function with its model definition, made by :func:`model`.

    Calling it calls the function. The definition's fields are attributes (``name``,
    ``runtime``, ``features``, ``target``, ``task``, ``params``, ``owner``, ``description``,
    ``tags``); ``func`` is the undecorated function and ``entry`` its entry point relative to
    the folder of the file that defines it (``model.py:train``).
    """

    kind = "model_definition"
    __name__: str  # copied from the function, as functools.wraps does

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None,
        runtime: str | None,
        features: str | None,
        target: str | None,
        task: str | None,
        params: Mapping[str, JsonScalar] | None,
        entity_rows: str | None = None,
        owner: str,
        description: str,
        tags: Mapping[str, str] | None,
    ) -> None:
        _check_function(func)
        self.func = func
        self.file = Path(inspect.getfile(func)).resolve()
        self.line = func.__code__.co_firstlineno
        # Checked now, so a bad value fails at the decorator's line.
        self._spec = ModelDefinitionSpec(
            name=func.__name__ if name is None else name,
            entry=f"{self.file.name}:{func.__name__}",
            runtime=runtime,
            features=features,
            target=target,
            task=task,
            entity_rows=entity_rows,
            params=dict(params or {}),
            owner=owner,
            description=description if description else inspect.getdoc(func) or "",
            tags=dict(tags or {}),
        )
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<model definition {self.name!r} ({self.entry})>"

    @property
    def name(self) -> str:
        """The model's name."""
        return self._spec.name

    @property
    def entry(self) -> str:
        """``<file>:<function>``, relative to the file's folder."""
        return self._spec.entry

    @property
    def runtime(self) -> str | None:
        """The runtime to train in, or None."""
        return self._spec.runtime

    @property
    def features(self) -> str | None:
        """The feature service, or None."""
        return self._spec.features

    @property
    def target(self) -> str | None:
        """The label column, or None."""
        return self._spec.target

    @property
    def task(self) -> str | None:
        """``classification``, ``regression`` or None."""
        return self._spec.task

    @property
    def entity_rows(self) -> str | None:
        """The default training data's entity rows (a parquet path or SQL), or None."""
        return self._spec.entity_rows

    @property
    def params(self) -> dict[str, JsonScalar]:
        """Default hyper-parameters (a copy)."""
        return dict(self._spec.params)

    @property
    def owner(self) -> str:
        """Who owns the model."""
        return self._spec.owner

    @property
    def description(self) -> str:
        """Free text."""
        return self._spec.description

    @property
    def tags(self) -> dict[str, str]:
        """String key/value pairs (a copy)."""
        return dict(self._spec.tags)

    def spec(self, root: str | Path | None = None) -> ModelDefinitionSpec:
        """The definition, with ``entry`` relative to ``root`` (default: the file's folder).

        Raises:
            InvalidArgument: the function's file is outside ``root``.
        """
        if root is None:
            return self._spec
        base = Path(root).expanduser().resolve()
        if not self.file.is_relative_to(base):
            raise InvalidArgument(
                f"model {self.name!r} is defined in {self.file}, outside the project folder "
                f"{base}: its code would not be in the package",
                details={"name": self.name, "file": str(self.file)},
            )
        entry = f"{self.file.relative_to(base).as_posix()}:{self.func.__name__}"
        return ModelDefinitionSpec(**{**self._spec.to_json(), "entry": check_entry(entry)})

    def fingerprint(self) -> str:
        return self._spec.fingerprint()


def _check_function(func: object) -> None:
    if not isinstance(func, FunctionType):
        raise InvalidArgument(
            f"@griffin.model decorates a function, not {type(func).__name__}",
            details={"field": "func"},
        )
    if func.__name__ == "<lambda>" or func.__qualname__ != func.__name__:
        raise InvalidArgument(
            f"@griffin.model needs a module-level function (def train(ctx): ... at the top "
            f"level of the file), not {func.__qualname__!r}: lambdas, nested functions and "
            "methods cannot be imported again from the code package",
            details={"field": "func", "function": func.__qualname__},
        )
    try:
        inspect.signature(func).bind(None)
    except TypeError:
        raise InvalidArgument(
            f"the train function {func.__name__!r} must take one argument, the training "
            "context: def train(ctx): ...",
            details={"field": "func", "function": func.__name__},
        ) from None


@overload
def model(func: Callable[..., Any], /) -> ModelFunction: ...


@overload
def model(
    func: None = None,
    /,
    *,
    name: str | None = None,
    runtime: str | None = None,
    features: str | None = None,
    target: str | None = None,
    task: str | None = None,
    entity_rows: str | None = None,
    params: Mapping[str, JsonScalar] | None = None,
    owner: str = "",
    description: str = "",
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], ModelFunction]: ...


def model(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    runtime: str | None = None,
    features: str | None = None,
    target: str | None = None,
    task: str | None = None,
    entity_rows: str | None = None,
    params: Mapping[str, JsonScalar] | None = None,
    owner: str = "",
    description: str = "",
    tags: Mapping[str, str] | None = None,
) -> ModelFunction | Callable[[Callable[..., Any]], ModelFunction]:
    """Declare a model definition: an untrained model and the function that trains it.

    Use it on a module-level function of your project's ``model.py`` that takes one argument,
    the training context, and returns the trained model; ``griffin models apply`` registers
    every definition of the project with the project's code. ``@griffin.model`` without
    arguments names the model after the function.

    Args:
        name: the model's name (letters, digits, ``_ - .``); default: the function's name.
        runtime: a standard runtime (``griffin runtimes list``) to train in.
        features: the feature service that gives the training features.
        target: the label column.
        task: ``"classification"`` or ``"regression"`` (chooses evaluation metrics).
        entity_rows: the training data a job uses when it names none: entity rows (a
            parquet path relative to the project, or SQL) with the ``target`` column, joined
            point-in-time with ``features`` (e.g. ``"data/labels.parquet"``).
        params: default hyper-parameters, JSON scalars (str, int, float, bool, None).
        owner: who owns the model (a person or team).
        description: free text; default: the function's docstring.
        tags: string key/value pairs.

    Returns:
        The function, still callable, carrying its definition (a :class:`ModelFunction`).

    Raises:
        InvalidArgument: a bad name, task or param value, or a function that is not
            module-level or does not take one argument.
    """

    def wrap(function: Callable[..., Any]) -> ModelFunction:
        return ModelFunction(
            function,
            name=name,
            runtime=runtime,
            features=features,
            target=target,
            task=task,
            entity_rows=entity_rows,
            params=params,
            owner=owner,
            description=description,
            tags=tags,
        )

    return wrap if func is None else wrap(func)


@dataclass(frozen=True, slots=True)
class ProjectModels:
    """The model definitions of one project folder, by name."""

    root: Path
    models: tuple[ModelFunction, ...]

    def __iter__(self) -> Iterator[ModelFunction]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def get(self, name: str) -> ModelFunction:
        for found in self.models:
            if found.name == name:
                return found
        from griffin.features.common import unknown_name

        raise unknown_name("model definitions", "model", name, [m.name for m in self.models])

    def specs(self) -> list[ModelDefinitionSpec]:
        """Every definition's spec, with entry points relative to :attr:`root`."""
        return [m.spec(self.root) for m in self.models]


def load_models(path: str | Path = ".") -> ProjectModels:
    """Import a project's model definitions.

    ``path`` is a folder or one ``.py`` file. In a folder, ``model.py`` is read when it
    exists, otherwise every top-level ``*.py`` except tests (``test_*.py``, ``*_test.py``,
    ``conftest.py``) and private modules (``_*.py``). The project root (for entry points and
    the code package) is the folder, or the file's folder. Each file is imported with the
    root on ``sys.path``, so sibling imports work.

    Raises:
        InvalidArgument: no such file or folder; an error in a file (naming the file and
            line); two different definitions with one name; an unknown runtime.
    """
    given = Path(path).expanduser().resolve()
    if given.is_dir():
        root = given
        files = (
            [given / DEFAULT_FILE]
            if (given / DEFAULT_FILE).is_file()
            else sorted(f for f in given.glob("*.py") if _is_definition_file(f.name))
        )
    elif given.is_file() and given.suffix == ".py":
        root, files = given.parent, [given]
    else:
        raise InvalidArgument(
            f"no model definitions at {str(path)!r}: give a model.py file or a folder",
            details={"field": "path"},
        )
    found: dict[str, tuple[ModelFunction, str]] = {}
    with _project_imports(root):
        for file in files:
            module = _import(file, root)
            for var, value in vars(module).items():
                if isinstance(value, ModelFunction):
                    _add(found, value, f"{file.name}: {var}")
    models = tuple(m for _, (m, _) in sorted(found.items()))
    _check_runtimes(root, models)
    for item in models:
        item.spec(root)  # entry points inside the root
    return ProjectModels(root, models)


def _add(found: dict[str, tuple[ModelFunction, str]], value: ModelFunction, origin: str) -> None:
    other = found.get(value.name)
    if other is None:
        found[value.name] = (value, origin)
        return
    if other[0] is value or (other[0].file, other[0].line) == (value.file, value.line):
        return  # the same definition reached twice (imported by a sibling file)
    raise InvalidArgument(
        f"model name {value.name!r} is used twice: {other[0].file.name}:{other[0].line} "
        f"({other[1]}) and {value.file.name}:{value.line} ({origin}); names must be unique",
        details={"name": value.name, "field": "name"},
    )


def _check_runtimes(root: Path, models: tuple[ModelFunction, ...]) -> None:
    if not any(m.runtime for m in models):
        return
    from griffin.training.runtimes import load_runtimes

    known = load_runtimes(root)
    for item in models:
        if item.runtime and item.runtime not in known:
            from griffin.features.common import unknown_name

            problem = unknown_name(f"model {item.name!r}", "runtime", item.runtime, known)
            raise _user_error(item.file, item.line, problem.message)


class _project_imports:
    """``root`` first on ``sys.path`` while importing, with the project's own module names
    free: a module of the same name imported earlier (another project's ``helpers``) is set
    aside and put back after. The project's modules are forgotten after, so loading another
    project (or this one after an edit) never sees stale modules.

    Args:
        root: the project folder.
        keep_path: leave ``root`` on ``sys.path`` afterwards (for a function that runs later).
    """

    def __init__(self, root: Path, *, keep_path: bool = False) -> None:
        self.root = root
        self.keep_path = keep_path
        self.before: set[str] = set()
        self.aside: dict[str, ModuleType] = {}
        self.inserted = False

    def _shadowed(self, name: str) -> bool:
        top = name.partition(".")[0]
        return (self.root / f"{top}.py").is_file() or (self.root / top).is_dir()

    def __enter__(self) -> None:
        self.aside = {n: m for n, m in list(sys.modules.items()) if self._shadowed(n)}
        for name in self.aside:
            del sys.modules[name]
        self.before = set(sys.modules)
        self.inserted = not (self.keep_path and sys.path[:1] == [str(self.root)])
        if self.inserted:
            sys.path.insert(0, str(self.root))

    def __exit__(self, *exc: object) -> None:
        if self.inserted and not self.keep_path:
            sys.path.remove(str(self.root))
        for name in set(sys.modules) - self.before:
            file_attr = getattr(sys.modules[name], "__file__", None)
            if name.startswith("_griffin_models_") or (
                file_attr and Path(file_attr).resolve().is_relative_to(self.root)
            ):
                del sys.modules[name]
        for name, module in self.aside.items():
            sys.modules.setdefault(name, module)


def _is_definition_file(name: str) -> bool:
    return not (
        name.startswith(("_", "test_")) or name.endswith("_test.py") or name == "conftest.py"
    )


def _import(file: Path, root: Path) -> ModuleType:
    return import_file(
        file,
        prefix="_griffin_models_",
        owns=lambda name: _in_project(name, root),
        error=_user_error,
    )


def _in_project(filename: str, root: Path) -> bool:
    if filename.startswith("<") or "site-packages" in filename:
        return False
    path = Path(filename).resolve()
    return path.is_relative_to(root) and path.is_file()


def _user_error(file: Path, line: int | None, message: str) -> InvalidArgument:
    where = f"{file}:{line}" if line else str(file)
    return InvalidArgument(
        f"error in model definitions {where}: {message}",
        details={"file": str(file), "line": line},
    )


def resolve_entry(root: str | Path, entry: str) -> ModelFunction | Callable[..., Any]:
    """Import an entry point (``model.py:train``) from an extracted code package at ``root``.

    The file is imported with ``root`` on ``sys.path`` (sibling imports work, and stay
    importable while the function runs). The result is what the module's global holds: the
    :class:`ModelFunction` (call it, or use ``.func``, ``.params``...) for a decorated
    function.

    Raises:
        InvalidArgument: a malformed entry, a missing file or function, or an error while
            importing (naming the file and line).
    """
    check_entry(entry)
    base = Path(root).expanduser().resolve()
    relative, _, function = entry.rpartition(":")
    file = (base / relative).resolve()
    if not file.is_relative_to(base) or not file.is_file():
        raise InvalidArgument(
            f"entry point {entry!r}: no file {relative!r} in {base}",
            details={"entry": entry},
        )
    with _project_imports(base, keep_path=True):
        module = _import(file, base)
    found = getattr(module, function, None)
    if found is None or not callable(found):
        raise InvalidArgument(
            f"entry point {entry!r}: {relative} has no function {function!r}",
            details={"entry": entry},
        )
    return found  # type: ignore[no-any-return]
