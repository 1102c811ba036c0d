"""The user documentation covers every setting, CLI command and option, and error code.

Like datasette's ``tests/test_docs.py``: adding a setting, a command, an option or an error code
without documenting it fails here, with the name of what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from griffin import plugins
from griffin.cli.main import app
from griffin.config import ENV_PREFIX, Settings
from griffin.errors import GriffinError

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _commands() -> Iterator[tuple[str, list[str]]]:
    """Every command path (``griffin runs list``) and its long option names, groups included."""
    pending = [("griffin", typer.main.get_command(app))]
    while pending:
        path, command = pending.pop(0)
        options = sorted(
            name
            for param in command.params
            for name in param.opts + param.secondary_opts
            if name.startswith("--") and name != "--help"
        )
        yield path, options
        children = getattr(command, "commands", {})
        pending.extend((f"{path} {name}", child) for name, child in sorted(children.items()))


def _sections(markdown: str) -> dict[str, str]:
    """Heading text (backticks stripped) -> the text up to the next heading of any level."""
    sections: dict[str, str] = {}
    parts = re.split(r"^(#{1,6} .*)$", markdown, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[heading.lstrip("#").strip().strip("`")] = body
    return sections


def _error_codes() -> dict[str, int]:
    codes: dict[str, int] = {}
    pending: list[type[GriffinError]] = [GriffinError]
    while pending:
        cls = pending.pop()
        if not cls.__name__.startswith("_"):
            codes.setdefault(cls.code, cls.http_status)
        pending.extend(cls.__subclasses__())
    return codes


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    sections = _sections(_read("configuration.md"))
    assert name in sections, f"docs/configuration.md has no '### `{name}`' section"
    env = f"{ENV_PREFIX}{name.upper()}"
    assert env in sections[name], f"the section for {name} does not name {env}"
    assert "Default" in sections[name], f"the section for {name} does not give its default"


COMMANDS = list(_commands())


@pytest.mark.parametrize(("path", "options"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_command_is_documented(path: str, options: list[str]) -> None:
    sections = _sections(_read("cli.md"))
    assert path in sections, f"docs/cli.md has no '## `{path}`' section"
    for option in options:
        assert option in sections[path], f"docs/cli.md does not document {path} {option}"


def test_cli_docs_name_only_real_commands() -> None:
    real = {path for path, _ in _commands()}
    documented = {h for h in _sections(_read("cli.md")) if h.startswith("griffin")}
    assert documented <= real, f"documented but not a command: {sorted(documented - real)}"


@pytest.mark.parametrize(("code", "status"), sorted(_error_codes().items()))
def test_error_code_is_documented(code: str, status: int) -> None:
    rows = [line for line in _read("api.md").splitlines() if f"`{code}`" in line]
    assert rows, f"docs/api.md does not document the error code {code}"
    assert any(f"| {status} |" in row for row in rows), f"{code} is not listed with {status}"


@pytest.mark.parametrize("kind", sorted(plugins.KINDS))
def test_plugin_kind_is_documented(kind: str) -> None:
    page = _read("plugins.md")
    assert f"### `{kind}`" in page, f"docs/plugins.md has no section for the kind {kind}"
    for target in plugins.BUILTINS[kind].values():
        assert f"`{target}`" in page, f"docs/plugins.md does not name the built-in {target}"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_resolve(page: str) -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", _read(page)):
        assert (DOCS / target).exists(), f"docs/{page} links to missing {target}"


def test_search_grammar_is_documented() -> None:
    tracking = _read("tracking.md")
    for fragment in ("ILIKE", "NOT IN", "attributes.status", "8,000", "order_by"):
        assert fragment in tracking, f"docs/tracking.md does not explain {fragment}"
