"""Importing the user's Python files (feature and model definitions) with readable errors.

A mistake in the user's file comes back as an ``InvalidArgument`` naming the file and line
where it is (the deepest frame in the user's own files), never as a traceback.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from griffin.errors import GriffinError, InvalidArgument

__all__ = ["import_file"]

UserError = Callable[[Path, int | None, str], InvalidArgument]


def import_file(
    file: Path, *, prefix: str, owns: Callable[[str], bool], error: UserError
) -> ModuleType:
    """Import ``file`` as a module named ``<prefix><digest>_<stem>``.

    ``owns(filename)`` says whether a traceback frame's file is the user's; ``error(file,
    line, message)`` builds the error raised for a mistake.
    """
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:12]
    module_name = f"{prefix}{digest}_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise InvalidArgument(f"cannot import {file}", details={"file": str(file)})
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and typing look their module up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = Path(exc.filename) if exc.filename else file
        raise error(where, exc.lineno, f"SyntaxError: {exc.msg}") from None
    except Exception as exc:
        # The deepest frame in the user's own files is where the mistake is.
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if owns(f.filename)]
        where = Path(frames[-1].filename) if frames else file
        line = frames[-1].lineno if frames else None
        message = exc.message if isinstance(exc, GriffinError) else str(exc)
        raise error(where, line, f"{type(exc).__name__}: {message}") from None
    return module
