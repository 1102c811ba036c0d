"""Shared rendering for every command: Rich tables for people, JSON for scripts, one-line errors.

Standard output carries only the result (a table, or JSON with ``--json``); progress, hints and
errors go to standard error, so ``griffin runs list --json | jq`` always parses.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = [
    "err_console",
    "format_time",
    "format_value",
    "out_console",
    "print_error",
    "print_json",
    "print_kv",
    "print_note",
    "print_table",
    "to_jsonable",
]

# Wide enough for 32-character ids when the output is piped (Rich would assume 80 columns).
_PIPE_WIDTH = 200


def _width(stream: Any) -> int | None:
    if os.environ.get("COLUMNS"):
        return None
    isatty = getattr(stream, "isatty", None)
    return None if callable(isatty) and isatty() else _PIPE_WIDTH


def out_console() -> Console:
    """A console on the current standard output (looked up at call time, for test runners)."""
    return Console(file=sys.stdout, width=_width(sys.stdout), highlight=False, soft_wrap=False)


def err_console() -> Console:
    """A console on the current standard error: progress, hints, warnings and errors."""
    # soft_wrap: an error stays one line however long; the terminal wraps it, Rich does not.
    return Console(file=sys.stderr, width=_width(sys.stderr), highlight=False, soft_wrap=True)


def to_jsonable(value: Any) -> Any:
    """Domain objects as plain JSON values: datetimes in ISO 8601, NaN and ±inf as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple such as Metric
        return {k: to_jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def print_json(value: Any) -> None:
    """Write ``value`` as indented JSON to standard output, and nothing else."""
    data = orjson.dumps(to_jsonable(value), option=orjson.OPT_INDENT_2)
    sys.stdout.write(data.decode() + "\n")
    sys.stdout.flush()


def format_time(value: datetime | None) -> str:
    """A timestamp for a table: UTC, to the second."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M")


def format_value(value: Any) -> str:
    """A cell: floats with up to 6 significant digits, everything else as text."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return format_time(value)
    if value is None:
        return ""
    return str(value)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for name in columns:
        # Ids must stay whole so they can be copied into the next command.
        table.add_column(name, no_wrap=name == "id", overflow="fold")
    for row in rows:
        table.add_row(*(Text(format_value(v)) for v in row))
    return table


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
    optional: Sequence[str] = (),
) -> None:
    """Print rows as a Rich table, or the ``empty`` hint (to standard error) when there are none.

    ``optional`` names columns that may be left out, the last one first, while the table is
    wider than the terminal: a narrow terminal shows fewer columns rather than mangled ones.
    """
    materialised = [list(r) for r in rows]
    if not materialised:
        err_console().print(f"[dim]{empty}[/dim]")
        return
    console = out_console()
    shown = list(columns)
    droppable = [c for c in optional if c in shown]
    table = _table(shown, materialised, title)
    unbounded = console.options.update_width(1_000_000)  # measure the table's natural width
    while droppable and Measurement.get(console, unbounded, table).maximum > console.width:
        index = shown.index(droppable.pop())
        shown.pop(index)
        for row in materialised:
            row.pop(index)
        table = _table(shown, materialised, title)
    if title:
        console.print()
    console.print(table)


def print_kv(pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    """Print key/value pairs as a two-column table without a header."""
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in pairs:
        table.add_row(key, Text(format_value(value)))
    out_console().print(table)


def print_error(headline: str, hint: str | None = None) -> None:
    """``error: <headline>`` in red on standard error, optionally followed by a hint."""
    console = err_console()
    console.print(Text("error: ", style="bold red") + Text(headline, style="red"))
    if hint:
        console.print(Text(hint, style="dim"))


def print_note(message: str) -> None:
    """A hint or warning for people, on standard error."""
    err_console().print(message)
