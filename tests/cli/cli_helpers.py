"""Helpers shared by the CLI tests (imported by name: tests/cli is on sys.path)."""

from __future__ import annotations

import os
from typing import Protocol

from typer.testing import Result

# The same server the root conftest's `pg_database` fixture uses.
PG_ADMIN_URL = os.environ.get("GRIFFIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Invoke(Protocol):
    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result: ...


def assert_one_line_error(result: Result, *fragments: str, code: int = 1) -> str:
    """The command failed with ``code`` and printed one ``error:`` line, no traceback."""
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[0].startswith("error: "), result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert result.stdout == ""
    return lines[0]
