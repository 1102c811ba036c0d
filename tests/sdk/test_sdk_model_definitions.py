"""The Model Store through the SDK (both transports): apply a project, read, diff, packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from griffin.client import Client
from griffin.errors import InvalidArgument, NotFound, PayloadTooLarge
from griffin.training.models import resolve_entry

MODEL_PY = '''
import griffin
from helpers import offset

@griffin.model(
    name="delivery_eta",
    runtime="sklearn-1",
    features="eta_service",
    target="eta_minutes",
    task="regression",
    params={"n_estimators": 100, "max_depth": DEPTH},
    owner="eta-team",
    tags={"team": "eta"},
)
def train(ctx):
    """Predicts delivery time."""
    return ctx + offset()
'''


def write(root: Path, depth: int = 6, offset: int = 1) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.py").write_text(textwrap.dedent(MODEL_PY.replace("DEPTH", str(depth))))
    (root / "helpers.py").write_text(f"def offset():\n    return {offset}\n")
    (root / ".gitignore").write_text("data/\n")
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "train.csv").write_text("a,b\n")
    return root


def test_apply_update_read_diff_and_download(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))  # resolve_entry leaves the root on it
    root = write(tmp_path / "proj")
    dry = client.apply_models(root, dry_run=True)
    assert [(i.action, i.new_version) for i in dry.items] == [("create", 1)]
    assert dry.package is not None
    assert not dry.package.uploaded
    assert not client.has_package(dry.code_digest)
    assert client.list_model_definitions() == []

    applied = client.apply_models(root)
    assert applied.applied
    assert applied.package is not None
    assert applied.package.uploaded
    assert applied.package.files == 3
    assert client.has_package(applied.code_digest)
    again = client.apply_models(str(root))
    assert [i.action for i in again.items] == ["unchanged"]
    assert again.package is not None
    assert not again.package.uploaded

    write(root, depth=8, offset=2)
    planned = client.plan_models(root)
    (item,) = planned.of("update")
    assert [str(c) for c in item.changes] == ["params.max_depth: 6 -> 8"]
    assert item.code_changed
    client.apply_models(root / "model.py")  # a file: its folder is the project

    found = client.get_model_definition("delivery_eta")
    assert (found.version, found.entry, found.runtime) == (2, "model.py:train", "sklearn-1")
    assert found.params == {"n_estimators": 100, "max_depth": 8}
    assert found.description == "Predicts delivery time."
    assert [v.version for v in found.versions] == [1, 2]
    assert client.get_model_definition("delivery_eta", version=1).params["max_depth"] == 6
    assert [v.code_digest for v in client.model_definition_versions("delivery_eta")] == [
        applied.code_digest,
        found.code_digest,
    ]
    assert [d.name for d in client.list_model_definitions("eta")] == ["delivery_eta"]

    diff = client.diff_model_definition("delivery_eta")
    assert (diff.from_version, diff.to_version) == (1, 2)
    assert diff.code_changed
    assert diff.files_compared
    assert sorted((f.path, f.op) for f in diff.files) == [
        ("helpers.py", "modified"),
        ("model.py", "modified"),
    ]

    # From the stored definition back to the train function.
    target = client.download_package(found.code_digest, tmp_path / "extracted")
    assert sorted(p.name for p in target.iterdir()) == [".gitignore", "helpers.py", "model.py"]
    train = resolve_entry(target, found.entry)
    assert train(40) == 42

    with pytest.raises(NotFound, match="did you mean 'delivery_eta'"):
        client.get_model_definition("delivery_et")
    with pytest.raises(NotFound):
        client.download_package("d" * 64, tmp_path / "nothing")


def test_upload_package_and_user_errors(client: Client, tmp_path: Path) -> None:
    from griffin.training.packages import build_package

    root = write(tmp_path / "proj")
    package = build_package(root, tmp_path / "out")
    assert client.upload_package(package.path) == package.digest
    assert client.upload_package(package.path) == package.digest
    (root / "model.py").write_text(
        "import griffin\n\n@griffin.model(task='ranking')\ndef t(ctx): ...\n"
    )
    with pytest.raises(InvalidArgument, match=r"model\.py:3"):
        client.apply_models(root)
    write(root)
    (root / "weights.bin").write_bytes(b"\0" * 2048)
    with pytest.raises(PayloadTooLarge, match=r"weights\.bin"):
        client.apply_models(root, max_package_bytes=1024)


def test_apply_refuses_a_package_without_the_definition_s_file(
    client: Client, tmp_path: Path
) -> None:

    repo = tmp_path / "repo"
    project = repo / "ignored" / "proj"
    project.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("ignored/\n")
    (project / "model.py").write_text(
        "import griffin\n\n@griffin.model(name='m')\ndef train(ctx):\n    return None\n"
    )
    with pytest.raises(InvalidArgument, match=r"model\.py is not in the code package"):
        client.apply_models(project)
