"""Settings: precedence, provenance, strictness and the masking of secrets (griffin.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from griffin.config import (
    Settings,
    describe,
    load_settings,
    load_settings_with_origins,
    mask_url,
    settings_sources,
)
from griffin.errors import ConfigError


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A GRIFFIN_HOME folder and a separate working directory, both empty."""
    home = tmp_path / "home"
    cwd = tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    return home, cwd


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_nothing_is_configured(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    settings, origins = load_settings_with_origins(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert settings.port == 8080
    assert settings.auth == "off"
    assert settings.project == "default"
    assert settings.token is None
    assert origins["port"] == "default"
    assert origins["home"] == "environment"
    assert set(origins) == set(Settings.model_fields)
    assert settings.resolved_database_url == f"sqlite:///{home / 'griffin.db'}"
    assert settings.resolved_artifact_root == str(home / "artifacts")


def test_precedence_env_over_project_file_over_home_file(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    home_file = _write(home / "config.toml", 'port = 9000\nhost = "10.0.0.1"\nproject = "p1"\n')
    project_file = _write(cwd / "griffin.toml", 'port = 9100\nhost = "0.0.0.0"\n')
    environ = {"GRIFFIN_HOME": str(home), "GRIFFIN_PORT": "9200"}

    settings, origins = load_settings_with_origins(cwd=cwd, environ=environ)

    assert settings.port == 9200
    assert settings.host == "0.0.0.0"
    assert settings.project == "p1"
    assert settings.auth == "off"
    assert origins["port"] == "environment"
    assert origins["host"] == str(project_file)
    assert origins["project"] == str(home_file)
    assert origins["auth"] == "default"


def test_explicit_arguments_beat_everything(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    _write(cwd / "griffin.toml", "port = 9100\n")
    settings, origins = load_settings_with_origins(
        cwd=cwd, environ={"GRIFFIN_HOME": str(home), "GRIFFIN_PORT": "9200"}, port=9300, url=None
    )
    assert settings.port == 9300
    assert origins["port"] == "argument"
    assert origins["url"] == "default"  # None overrides are ignored


def test_layers_are_listed_lowest_precedence_first(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    _write(home / "config.toml", "workers = 2\n")
    layers = settings_sources(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert [origin for origin, _ in layers] == [
        str(home / "config.toml"),
        str(cwd / "griffin.toml"),
        "environment",
    ]
    assert layers[0][1] == {"workers": 2}
    assert layers[1][1] == {}


def test_home_defaults_to_dot_griffin(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, cwd = layout
    monkeypatch.setenv("HOME", str(tmp_path))
    _write(cwd / "griffin.toml", "")
    (tmp_path / ".griffin").mkdir()
    home_file = _write(tmp_path / ".griffin" / "config.toml", "workers = 3\n")
    settings, origins = load_settings_with_origins(cwd=cwd, environ={})
    assert settings.workers == 3
    assert origins["workers"] == str(home_file)


def test_env_values_are_coerced(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    settings = load_settings(
        cwd=cwd,
        environ={
            "GRIFFIN_HOME": str(home),
            "GRIFFIN_AUTH": "required",
            "GRIFFIN_HEARTBEAT_TIMEOUT_S": "12.5",
            "GRIFFIN_URL": "http://griffin:8080/",
            "PATH": "/usr/bin",  # unrelated variables are ignored
        },
    )
    assert settings.auth == "required"
    assert settings.heartbeat_timeout_s == 12.5
    assert settings.url == "http://griffin:8080"


def test_settings_are_frozen(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    settings = load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


# --- unknown keys ---------------------------------------------------------------------------


def test_unknown_env_var_is_rejected_by_name(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    with pytest.raises(ConfigError, match="GRIFFIN_PROT") as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home), "GRIFFIN_PROT": "1"})
    assert "GRIFFIN_PORT" in info.value.message  # the known names are listed


def test_unknown_key_in_project_file_names_key_and_file(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    path = _write(cwd / "griffin.toml", "prot = 1\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert "'prot'" in info.value.message
    assert str(path) in info.value.message
    assert "port" in info.value.message


def test_unknown_key_in_home_file_names_key_and_file(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    path = _write(home / "config.toml", '[server]\nhost = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert "'server'" in info.value.message
    assert str(path) in info.value.message


def test_unknown_override_argument_is_rejected(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    with pytest.raises(ConfigError, match="prot"):
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)}, prot=1)


# --- bad files and values -------------------------------------------------------------------


def test_corrupted_toml_names_file_and_line(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    path = _write(cwd / "griffin.toml", 'port = 9000\nhost = "unterminated\nauth = "off"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert str(path) in info.value.message
    assert "line 2" in info.value.message


def test_corrupted_home_toml_names_file(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    path = _write(home / "config.toml", "= nothing\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert str(path) in info.value.message
    assert "line 1" in info.value.message


def test_unreadable_config_is_a_config_error(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    (cwd / "griffin.toml").write_bytes(b'host = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match=r"griffin\.toml: not valid UTF-8"):
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})


def test_bad_value_in_file_names_key_and_file(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    path = _write(cwd / "griffin.toml", "port = 0\n")
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert f"port ({path})" in info.value.message
    assert "greater than or equal to 1" in info.value.message


def test_bad_value_in_env_names_key_and_variable(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home), "GRIFFIN_AUTH": "maybe"})
    assert "auth (GRIFFIN_AUTH)" in info.value.message
    assert "'off' or 'required'" in info.value.message


def test_every_bad_value_is_reported(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    path = _write(home / "config.toml", 'workers = 0\nlog_level = "loud"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home), "GRIFFIN_PORT": "http"})
    message = info.value.message
    assert f"workers ({path})" in message
    assert f"log_level ({path})" in message
    assert "port (GRIFFIN_PORT)" in message
    assert info.value.code == "CONFIG_ERROR"
    assert info.value.http_status == 400


def test_bad_override_names_argument(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    with pytest.raises(ConfigError, match=r"port \(argument\)"):
        load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)}, port=70000)


# --- describe and masking -------------------------------------------------------------------


def test_describe_masks_secrets_and_reports_origins(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    project_file = _write(cwd / "griffin.toml", 'artifact_root = "s3://AKIA:s3cr3t@bucket/a"\n')
    environ = {
        "GRIFFIN_HOME": str(home),
        "GRIFFIN_TOKEN": "gft_supersecret",
        "GRIFFIN_DATABASE_URL": "postgresql://griffin:hunter2@db:5432/griffin",
    }
    settings, origins = load_settings_with_origins(cwd=cwd, environ=environ)
    assert settings.token is not None
    assert settings.token.get_secret_value() == "gft_supersecret"
    assert "gft_supersecret" not in repr(settings)

    rows = {row["key"]: row for row in describe(settings, origins)}
    assert list(rows) == list(Settings.model_fields)
    assert rows["token"]["value"] == "********"
    assert rows["token"]["origin"] == "environment"
    assert rows["database_url"]["value"] == "postgresql://griffin:***@db:5432/griffin"
    assert rows["artifact_root"]["value"] == "s3://AKIA:***@bucket/a"
    assert rows["artifact_root"]["origin"] == str(project_file)
    assert rows["port"] == {
        "key": "port",
        "value": "8080",
        "origin": "default",
        "description": "Port `griffin server` binds.",
    }
    text = repr(rows)
    assert "hunter2" not in text
    assert "s3cr3t" not in text
    assert "supersecret" not in text
    assert all(row["description"] for row in rows.values())


def test_describe_fills_in_embedded_defaults(layout: tuple[Path, Path]) -> None:
    home, cwd = layout
    settings, origins = load_settings_with_origins(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    rows = {row["key"]: row for row in describe(settings, origins)}
    assert rows["database_url"]["value"] == f"sqlite:///{home / 'griffin.db'}"
    assert rows["database_url"]["origin"] == "default"
    assert rows["artifact_root"]["value"] == str(home / "artifacts")
    assert rows["token"]["value"] == ""


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:secret@127.0.0.1:1/x", "postgresql://u:***@127.0.0.1:1/x"),
        ("postgresql+psycopg://user:p%40ss@h/db", "postgresql+psycopg://user:***@h/db"),
        ("postgresql://user:pa@ss:w@rd@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
        ("sqlite:////tmp/griffin.db", "sqlite:////tmp/griffin.db"),
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_home_comes_from_the_given_environment(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An explicit environ is the whole environment: os.environ's GRIFFIN_HOME is not used."""
    home, cwd = layout
    monkeypatch.setenv("GRIFFIN_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("HOME", str(tmp_path))
    settings, origins = load_settings_with_origins(cwd=cwd, environ={})
    assert settings.home == tmp_path / ".griffin"
    assert origins["home"] == "default"
    settings = load_settings(cwd=cwd, environ={"GRIFFIN_HOME": str(home)})
    assert settings.home == home
