"""Fixtures for the CLI tests: an in-process runner over the real Typer app."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from cli_helpers import Invoke
from typer.testing import CliRunner, Result

from griffin.cli.main import app


@pytest.fixture
def cli() -> Invoke:
    """Run ``griffin <args>`` in-process; stdout and stderr are captured separately."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def cli_json(cli: Invoke) -> Callable[..., Any]:
    """Run ``griffin <args> --json``, check it succeeded, and parse its standard output."""

    def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
        result = cli(*args, "--json", env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return invoke
