"""``@griffin.model`` and ``load_models``: definitions, entry points and user mistakes."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import griffin
from griffin.errors import InvalidArgument
from griffin.training.models import ModelFunction, load_models, model, resolve_entry

MODEL_PY = '''
import griffin
from helpers import SCALE

@griffin.model(
    name="delivery_eta",
    runtime="sklearn-1",
    features="eta_service",
    target="eta_minutes",
    task="regression",
    params={"n_estimators": 100, "max_depth": 6},
    owner="eta-team",
    tags={"team": "eta"},
)
def train(ctx):
    """Predicts delivery time."""
    return ctx * SCALE
'''


def write(folder: Path, text: str = MODEL_PY, name: str = "model.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helpers.py").write_text("SCALE = 3\n")
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


@model
def fit(ctx: object) -> object:
    """Docstring becomes the description."""
    return ctx


def test_decorator_keeps_the_function_and_its_definition() -> None:
    assert isinstance(fit, ModelFunction)
    assert fit(5) == 5
    assert fit.func(6) == 6
    assert fit.name == "fit"
    assert fit.description == "Docstring becomes the description."
    assert fit.entry == "test_model_definitions.py:fit"
    assert fit.__name__ == "fit"
    assert griffin.model is model


def test_decorator_refuses_nested_functions_and_lambdas() -> None:
    with pytest.raises(InvalidArgument, match="module-level function"):

        @model(name="nested")
        def nested(ctx: object) -> None: ...

    with pytest.raises(InvalidArgument, match="module-level function"):
        model(name="lam")(lambda ctx: ctx)
    with pytest.raises(InvalidArgument, match="decorates a function"):
        model(name="obj")(print)


def test_load_folder_gives_specs_with_relative_entries(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "other.py").write_text("raise RuntimeError('never imported: model.py wins')\n")
    project = load_models(tmp_path)
    assert project.root == tmp_path.resolve()
    assert [m.name for m in project] == ["delivery_eta"]
    found = project.get("delivery_eta")
    assert found(2) == 6  # sibling import worked
    (spec,) = project.specs()
    assert spec.entry == "model.py:train"
    assert spec.params == {"n_estimators": 100, "max_depth": 6}
    assert spec.task == "regression"
    assert spec.features == "eta_service"
    assert spec.description == "Predicts delivery time."
    with pytest.raises(InvalidArgument, match="did you mean 'delivery_eta'"):
        project.get("delivery_et")


def test_load_one_file_and_subfolder_entries(tmp_path: Path) -> None:
    pkg = tmp_path / "models"
    write(pkg, name="eta.py")
    (pkg / "__init__.py").write_text("")
    (tmp_path / "helpers.py").write_text("SCALE = 3\n")
    (tmp_path / "main.py").write_text("from models.eta import train\n")
    project = load_models(tmp_path / "main.py")
    assert project.specs()[0].entry == "models/eta.py:train"


def test_folder_without_model_py_reads_every_top_level_file(tmp_path: Path) -> None:
    write(tmp_path, name="training.py")
    (tmp_path / "test_training.py").write_text("raise RuntimeError('tests are skipped')\n")
    assert [m.name for m in load_models(tmp_path)] == ["delivery_eta"]


def test_resolve_entry_imports_the_function_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # resolve_entry leaves the root on it
    write(tmp_path)
    found = resolve_entry(tmp_path, "model.py:train")
    assert isinstance(found, ModelFunction)
    assert found(1) == 3
    with pytest.raises(InvalidArgument, match="has no function 'fit'"):
        resolve_entry(tmp_path, "model.py:fit")
    with pytest.raises(InvalidArgument, match="no file"):
        resolve_entry(tmp_path, "missing.py:train")
    with pytest.raises(InvalidArgument, match="not an entry point"):
        resolve_entry(tmp_path, "../model.py:train")


@pytest.mark.parametrize(
    ("replace", "by", "fragment"),
    [
        ('task="regression"', 'task="regresion"', "task must be one of"),
        ('runtime="sklearn-1"', 'runtime="sklearn-9"', "did you mean 'sklearn-1'"),
        ('"max_depth": 6', '"max_depth": [6]', "JSON scalar"),
        ('name="delivery_eta"', 'name="bad name"', "invalid model name"),
        ("def train(ctx):", "def train():", "must take one argument"),
        ("return ctx * SCALE", "return ctx *", "SyntaxError"),
    ],
)
def test_user_mistakes_name_file_and_line(
    tmp_path: Path, replace: str, by: str, fragment: str
) -> None:
    path = write(tmp_path, MODEL_PY.replace(replace, by))
    with pytest.raises(InvalidArgument) as info:
        load_models(tmp_path)
    message = info.value.message
    assert fragment in message
    assert f"{path}:" in message
    assert info.value.details["file"] == str(path)
    assert isinstance(info.value.details["line"], int)


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    write(tmp_path, name="a.py")
    write(tmp_path, MODEL_PY.replace("def train(ctx):", "def train2(ctx):"), name="b.py")
    with pytest.raises(InvalidArgument, match="'delivery_eta' is used twice"):
        load_models(tmp_path)


def test_same_definition_imported_twice_is_fine(tmp_path: Path) -> None:
    write(tmp_path, name="a.py")
    (tmp_path / "b.py").write_text("from a import train as again\n")
    assert [m.name for m in load_models(tmp_path)] == ["delivery_eta"]


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="no model definitions at"):
        load_models(tmp_path / "nope")


def test_projects_with_the_same_module_names_do_not_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    first, second = write(tmp_path / "a").parent, write(tmp_path / "b").parent
    (second / "helpers.py").write_text("SCALE = 10\n")
    assert resolve_entry(first, "model.py:train")(1) == 3  # leaves "helpers" importable
    assert load_models(second).get("delivery_eta")(1) == 10
    assert resolve_entry(second, "model.py:train")(1) == 10
