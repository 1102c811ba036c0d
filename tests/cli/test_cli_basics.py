"""`griffin version`, `griffin config show` and the one-line errors of a broken configuration."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Invoke, assert_one_line_error

from griffin._version import __version__


def test_version(cli: Invoke) -> None:
    result = cli("version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_version_json(cli_json: Any) -> None:
    info = cli_json("version")
    assert info["version"] == __version__
    assert info["python"] == sys.version.split()[0]


def test_whoami_on_the_embedded_store(cli_json: Any) -> None:
    me = cli_json("whoami")
    assert (me["project"], me["role"]) == ("*", "admin")
    assert me["server"].startswith("the embedded store (sqlite:///")


def test_no_arguments_shows_help(cli: Invoke) -> None:
    result = cli()
    assert "Usage" in result.output
    assert "quickstart" in result.output


def test_config_show_origins(cli_json: Any, tmp_path: Path, monkeypatch: Any) -> None:
    Path("griffin.toml").write_text('project = "from-file"\nport = 9001\n')
    monkeypatch.setenv("GRIFFIN_PORT", "9002")
    rows = {row["key"]: row for row in cli_json("config", "show")}
    assert rows["project"]["value"] == "from-file"
    assert rows["project"]["origin"].endswith("griffin.toml")
    assert rows["port"] == {**rows["port"], "value": "9002", "origin": "environment"}
    assert rows["host"]["origin"] == "default"
    assert rows["database_url"]["value"].startswith("sqlite:///")


def test_config_show_masks_secrets(cli: Invoke, monkeypatch: Any) -> None:
    monkeypatch.setenv("GRIFFIN_TOKEN", "gft_very_secret")
    monkeypatch.setenv("GRIFFIN_DATABASE_URL", "postgresql://u:hunter2@db.example:5432/g")
    result = cli("config", "show")
    assert result.exit_code == 0
    assert "gft_very_secret" not in result.output
    assert "hunter2" not in result.output
    assert "postgresql://u:***@db.example:5432/g" in result.stdout
    assert "environment" in result.stdout


def test_global_project_option_is_a_setting(cli_json: Any) -> None:
    rows = {row["key"]: row for row in cli_json("--project", "fraud", "config", "show")}
    assert rows["project"]["value"] == "fraud"
    assert rows["project"]["origin"] == "argument"


def test_unknown_key_in_file(cli: Invoke) -> None:
    Path("griffin.toml").write_text('databse_url = "sqlite:///x.db"\n')
    line = assert_one_line_error(cli("config", "show"), "databse_url", "griffin.toml")
    assert "known settings" in line


def test_unknown_environment_variable(cli: Invoke, monkeypatch: Any) -> None:
    monkeypatch.setenv("GRIFFIN_PORTT", "1")
    assert_one_line_error(cli("runs", "list"), "GRIFFIN_PORTT")


def test_invalid_value_names_setting_and_origin(cli: Invoke, monkeypatch: Any) -> None:
    monkeypatch.setenv("GRIFFIN_PORT", "eighty")
    assert_one_line_error(cli("config", "show"), "port", "GRIFFIN_PORT")


def test_corrupted_toml(cli: Invoke) -> None:
    Path("griffin.toml").write_text('project = "ok"\nport = = 3\n')
    line = assert_one_line_error(cli("config", "show"), "griffin.toml", "line 2")
    assert "invalid TOML" in line


def test_corrupted_home_config(cli: Invoke, monkeypatch: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[[[")
    monkeypatch.setenv("GRIFFIN_HOME", str(home))
    assert_one_line_error(cli("db", "current"), str(home / "config.toml"), "line 1")


def test_usage_error_exits_2(cli: Invoke) -> None:
    result = cli("runs", "list", "--status", "sleeping")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_unexpected_error_is_one_line_without_debug(
    cli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr("griffin.cli.main.print_kv", broken)
    result = cli("version")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: unexpected RuntimeError: boom",
        "run the command again with `griffin --debug ...` to see the traceback",
    ]
    with pytest.raises(RuntimeError, match="boom"):
        cli("--debug", "version")
