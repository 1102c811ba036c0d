"""`griffin models apply` and `griffin models definitions` on the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Invoke, assert_one_line_error

MODEL_PY = """
import griffin

@griffin.model(name="delivery_eta", runtime="sklearn-1", task="regression",
               params={"max_depth": DEPTH}, owner="eta-team")
def train(ctx):
    return ctx
"""


def write(depth: int) -> None:
    Path("model.py").write_text(MODEL_PY.replace("DEPTH", str(depth)))


def test_apply_list_show_diff(cli: Invoke) -> None:
    write(6)
    dry = cli("models", "apply", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "delivery_eta" in dry.stdout
    assert "create" in dry.stdout
    assert "not uploaded (dry run)" in dry.stdout
    assert "1 to create" in dry.stderr
    assert "no model definitions" in cli("models", "definitions", "list").stderr

    applied = cli("models", "apply", "--json")
    assert applied.exit_code == 0, applied.output
    result = json.loads(applied.stdout)
    assert result["applied"]
    assert result["items"][0]["new_version"] == 1
    assert result["package"]["files"] == 1
    assert result["package"]["uploaded"]
    digest = result["code_digest"]

    write(8)
    updated = cli("models", "apply", ".")
    assert updated.exit_code == 0, updated.output
    assert "params.max_depth: 6 -> 8" in updated.stdout
    assert "applied: 0 created, 1 updated" in updated.stderr

    listed = json.loads(cli("models", "definitions", "list", "--json").stdout)
    assert [(d["name"], d["version"]) for d in listed] == [("delivery_eta", 2)]
    assert cli("models", "definitions", "list", "-q", "eta").exit_code == 0
    table = cli("models", "definitions", "list")
    assert "model.py:train" in table.stdout
    shown = cli("models", "definitions", "show", "delivery_eta", "--version", "1")
    assert shown.exit_code == 0, shown.output
    assert "1 of 2" in shown.stdout
    assert '{"max_depth":6}' in shown.stdout
    as_json = json.loads(cli("models", "definitions", "show", "delivery_eta", "--json").stdout)
    assert as_json["versions"][0]["change"] == "created"
    assert as_json["code_digest"] != digest

    diff = cli("models", "definitions", "diff", "delivery_eta", "--from", "1", "--to", "2")
    assert diff.exit_code == 0, diff.output
    assert "params.max_depth: 6 -> 8" in diff.stdout
    assert "model.py" in diff.stdout
    assert "modified" in diff.stdout
    diff_json = json.loads(cli("models", "definitions", "diff", "delivery_eta", "--json").stdout)
    assert [(f["path"], f["op"]) for f in diff_json["files"]] == [("model.py", "modified")]
    same = cli("models", "definitions", "diff", "delivery_eta", "--from", "2")
    assert "no differences" in same.stdout


def test_errors_are_one_line(cli: Invoke) -> None:
    Path("model.py").write_text(
        "import griffin\n\n@griffin.model(task='ranking')\ndef t(ctx): ...\n"
    )
    assert_one_line_error(cli("models", "apply"), "model.py:3", "task must be one of")
    assert_one_line_error(cli("models", "apply", "missing"), "no model definitions at")
    write(6)
    cli("models", "apply")
    assert_one_line_error(
        cli("models", "definitions", "show", "delivery_et"), "did you mean 'delivery_eta'"
    )
    assert_one_line_error(
        cli("models", "definitions", "diff", "delivery_eta", "--to", "3"), "no version 3"
    )
