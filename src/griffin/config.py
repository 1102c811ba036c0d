"""Griffin's one typed settings object.

Precedence, highest first:

1. ``GRIFFIN_*`` environment variables (``GRIFFIN_DATABASE_URL``, ``GRIFFIN_AUTH``, ...);
2. ``griffin.toml`` in the working directory;
3. ``$GRIFFIN_HOME/config.toml`` (``GRIFFIN_HOME`` defaults to ``~/.griffin``);
4. the defaults below.

Unknown keys are rejected with a message naming the key and the file (or variable) it came from,
so a typo never silently falls back to a default. ``griffin config show`` prints the effective
values and where each one came from. Every field is documented in ``docs/configuration.md``
(a test fails when one is not).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from griffin.errors import ConfigError

__all__ = ["ENV_PREFIX", "Settings", "load_settings", "settings_sources"]

ENV_PREFIX = "GRIFFIN_"
PROJECT_FILE = "griffin.toml"
HOME_FILE = "config.toml"


def default_home() -> Path:
    """``$GRIFFIN_HOME``, else ``~/.griffin``: where embedded data and the user config live."""
    return Path(os.environ.get(f"{ENV_PREFIX}HOME") or Path.home() / ".griffin").expanduser()


class Settings(BaseSettings):
    """Every Griffin setting. Build one with :func:`load_settings`."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, validate_default=True)

    home: Path = Field(default_factory=default_home, description="Folder for embedded data.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the metadata store; empty means SQLite in `home`.",
    )
    artifact_root: str = Field(
        default="",
        description="Where artifacts are stored: a local folder or an s3:// URI.",
    )
    online_store: str = Field(
        default="",
        description=(
            "URL of the online feature store: sqlite:///path or redis://host:port/db; "
            "empty means SQLite in `home`."
        ),
    )
    offline_root: str = Field(
        default="",
        description=(
            "Where Griffin keeps offline feature data it writes itself (the log of pushed rows): "
            "a local folder or an s3:// URI; empty means `home`/offline."
        ),
    )
    project: str = Field(default="default", description="Project used when none is named.")
    url: str = Field(default="", description="Griffin server the SDK and CLI talk to.")
    token: SecretStr | None = Field(default=None, description="API token sent to `url`.")
    auth: Literal["off", "required"] = Field(default="off", description="Require API tokens.")
    host: str = Field(default="127.0.0.1", description="Address `griffin server` binds.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `griffin server` binds.")
    workers: int = Field(default=1, ge=1, le=64, description="Server worker processes.")
    heartbeat_timeout_s: float = Field(
        default=300.0, gt=0, description="A RUNNING run silent this long is marked FAILED."
    )
    metric_flush_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often the SDK sends buffered metrics."
    )
    max_artifact_bytes: int = Field(
        default=50 * 1024**3, gt=0, description="Largest single artifact upload accepted."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Server log level."
    )
    server_dispatcher: bool = Field(
        default=True, description="`griffin server` also claims and runs jobs (a dispatcher)."
    )
    jobs_root: str = Field(
        default="",
        description="Local folder for job working dirs and logs; empty means `home`/jobs.",
    )
    job_poll_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="How often a dispatcher polls jobs and the queue."
    )
    job_heartbeat_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A worker silent this long is presumed dead; its jobs are reconciled.",
    )
    job_max_parallel: int = Field(
        default=4, ge=1, le=1024, description="Jobs one dispatcher runs at the same time."
    )
    job_retry_backoff_s: float = Field(
        default=10.0, ge=0, description="First retry delay after an infrastructure failure."
    )
    job_id: str = Field(
        default="",
        description="Set by the launcher inside a job's process: the id of the job it runs.",
    )
    job_attempt: int = Field(
        default=0, ge=0, description="Set by the launcher inside a job's process: its attempt."
    )
    job_prestart: bool = Field(
        default=True,
        description=(
            "Keep the next local job's interpreter started ahead, with Griffin and the "
            "packages recent jobs imported already imported: a job starts in milliseconds "
            "instead of seconds, for one idle process."
        ),
    )
    job_cancel_grace_s: float = Field(
        default=10.0, ge=0, description="Seconds between SIGTERM and SIGKILL when stopping a job."
    )
    ray_address: str = Field(
        default="",
        description=(
            "Ray Jobs API address (the dashboard, http://host:8265) of the `ray` launcher; "
            "empty means $RAY_API_SERVER_ADDRESS, else $RAY_ADDRESS."
        ),
    )
    ray_token: SecretStr | None = Field(
        default=None,
        description="Token of a Ray cluster with token authentication; none means $RAY_AUTH_TOKEN.",
    )

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        """The database URL with the embedded SQLite default filled in."""
        return self.database_url or f"sqlite:///{self.home / 'griffin.db'}"

    @property
    def resolved_artifact_root(self) -> str:
        """The artifact root with the embedded local-folder default filled in."""
        return self.artifact_root or str(self.home / "artifacts")

    @property
    def resolved_online_store(self) -> str:
        """The online store URL with the embedded SQLite default filled in."""
        return self.online_store or f"sqlite:///{self.home / 'online.db'}"

    @property
    def resolved_jobs_root(self) -> Path:
        """The jobs folder with the embedded default (``home``/jobs) filled in."""
        return Path(self.jobs_root).expanduser() if self.jobs_root else self.home / "jobs"

    @property
    def resolved_offline_root(self) -> str:
        """The offline root with the embedded local-folder default filled in."""
        return self.offline_root or str(self.home / "offline")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Files are read by load_settings (it needs provenance); only explicit init values
        # reach pydantic here, so each value's origin is known exactly.
        return (init_settings,)


class _TomlSource:
    """One TOML file as a flat dict; a parse error names the file and line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        if not self.path.is_file():
            return {}
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.path}: invalid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{self.path}: not valid UTF-8 (byte {exc.start}); TOML files must be UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot be read: {exc.strerror}") from None
        return data


def _env_values(environ: dict[str, str]) -> dict[str, str]:
    known = {name.upper() for name in Settings.model_fields}
    values: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :]
        if key not in known:
            raise ConfigError(
                f"unknown setting {name}: not one of "
                + ", ".join(sorted(ENV_PREFIX + k for k in known))
            )
        values[key.lower()] = value
    return values


def _home(env: dict[str, Any]) -> Path:
    return Path(env.get("home") or Path.home() / ".griffin").expanduser()


def settings_sources(
    cwd: Path | None = None, environ: dict[str, str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The layers, lowest precedence first, as ``(origin, values)`` pairs."""
    environ = dict(os.environ if environ is None else environ)
    env = _env_values(environ)
    home_file = _home(env) / HOME_FILE
    project_file = (cwd or Path.cwd()) / PROJECT_FILE
    layers: list[tuple[str, dict[str, Any]]] = [
        (str(home_file), _TomlSource(home_file).read()),
        (str(project_file), _TomlSource(project_file).read()),
        ("environment", env),
    ]
    for origin, values in layers:
        for key in values:
            if key not in Settings.model_fields:
                where = f"{ENV_PREFIX}{key.upper()}" if origin == "environment" else origin
                raise ConfigError(
                    f"unknown setting '{key}' in {where}; known settings: "
                    + ", ".join(sorted(Settings.model_fields))
                )
    return layers


def load_settings(
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from the files, the environment and explicit ``overrides`` (highest)."""
    settings, _ = load_settings_with_origins(cwd, environ, **overrides)
    return settings


def load_settings_with_origins(
    cwd: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> tuple[Settings, dict[str, str]]:
    """Like :func:`load_settings`, plus where each value came from (``default`` if nowhere)."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    layers = settings_sources(cwd, environ)
    layers.append(("argument", {k: v for k, v in overrides.items() if v is not None}))
    for origin, values in layers:
        for key, value in values.items():
            merged[key] = value
            origins[key] = origin
    if "home" not in merged:
        # The folder whose config.toml was read, from the same environment (which may be an
        # explicit ``environ``, not os.environ that the field's default would read).
        merged["home"] = _home(dict(layers)["environment"])
    try:
        settings = Settings(**merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            where = origins.get(key, "default")
            if where == "environment":
                where = f"{ENV_PREFIX}{key.upper()}"
            problems.append(f"{key} ({where}): {err['msg']}")
        raise ConfigError("invalid setting " + "; ".join(problems)) from None
    for key in Settings.model_fields:
        origins.setdefault(key, "default")
    return settings, origins


def describe(settings: Settings, origins: dict[str, str]) -> list[dict[str, str]]:
    """Rows for ``griffin config show``: key, effective value (secrets masked), origin."""
    rows = []
    for key, field in Settings.model_fields.items():
        value = getattr(settings, key)
        if isinstance(value, SecretStr):
            shown = "********"
        elif value is None:
            shown = ""
        else:
            shown = str(value)
        if key == "database_url" and not settings.database_url:
            shown = settings.resolved_database_url
        if key == "artifact_root" and not settings.artifact_root:
            shown = settings.resolved_artifact_root
        if key == "online_store" and not settings.online_store:
            shown = settings.resolved_online_store
        rows.append(
            {
                "key": key,
                "value": mask_url(shown),
                "origin": origins[key],
                "description": _description(field),
            }
        )
    return rows


def _description(field: FieldInfo) -> str:
    return field.description or ""


def mask_url(url: str) -> str:
    """Hide the password in a URL such as ``postgresql://user:secret@host/db``."""
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
