"""Validation of client-supplied artifact paths.

Every artifact path that crosses a trust boundary (HTTP request, SDK call, CLI argument) goes
through :func:`clean_relative_path` exactly once, at the edge. The rules are deliberately
strict: it is far cheaper to refuse an odd-but-harmless name than to reason about how each
storage backend (POSIX, Windows, S3, a proxy that URL-decodes) might reinterpret it.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from griffin.errors import InvalidArgument

__all__ = [
    "MAX_PATH_CHARS",
    "MAX_SEGMENT_BYTES",
    "RESERVED_NAME",
    "TEMP_PREFIX",
    "clean_relative_path",
    "is_reserved_name",
    "join_under",
]

MAX_PATH_CHARS = 1024
# 255 bytes is the per-name limit of ext4, XFS, APFS and NTFS, so a longer segment would fail
# at write time on most disks; refusing it up front gives a clear 400 instead of an OSError.
MAX_SEGMENT_BYTES = 255
RESERVED_NAME = ".griffin"
# In-flight uploads are staged next to their target under this prefix; reserving it stops a
# client from naming (and so clobbering or reading) another upload's staging file.
TEMP_PREFIX = ".griffin-tmp-"

_DRIVE = re.compile(r"^[A-Za-z]:")


def is_reserved_name(segment: str) -> bool:
    """Whether ``segment`` is a name Griffin keeps for itself (case-insensitively).

    Case-folded because macOS and Windows disks are case-insensitive: ``.GRIFFIN`` would land
    on the same directory as ``.griffin``.
    """
    folded = segment.casefold()
    return folded == RESERVED_NAME or folded.startswith(TEMP_PREFIX)


def _reject(path: str, reason: str) -> InvalidArgument:
    return InvalidArgument(f"invalid artifact path {path!r}: {reason}", details={"field": "path"})


def clean_relative_path(path: str) -> str:
    """Validate a client-supplied artifact path and return its canonical form.

    The canonical form is a relative POSIX path of non-empty segments with no trailing slash
    (one trailing slash, as in ``"model/"``, is accepted and dropped). Nothing is decoded or
    rewritten: a path that would need rewriting (``a//b``, ``./a``, ``%2e%2e``) is refused, so
    the result is a fixed point and the check can safely run again deeper in the stack.

    Raises:
        InvalidArgument: naming the path and the rule it breaks (``details={"field": "path"}``).
    """
    if not isinstance(path, str):
        raise _reject(repr(path), "must be a string")
    if not path:
        raise _reject(path, "must not be empty")
    if path != path.strip():
        raise _reject(path, "must not start or end with whitespace")
    if len(path) > MAX_PATH_CHARS:
        raise _reject(path[:64] + "...", f"longer than {MAX_PATH_CHARS} characters")
    if path.startswith("/"):
        raise _reject(path, "must be relative (no leading '/')")
    if _DRIVE.match(path):
        raise _reject(path, "must not start with a drive letter")
    if "\\" in path:
        raise _reject(path, "must use '/' as separator (no backslashes)")
    # Category Cc covers NUL, C0, DEL and C1 controls: none belongs in a file name and several
    # truncate or confuse C APIs, terminals and log lines.
    if any(unicodedata.category(ch) == "Cc" for ch in path):
        raise _reject(path, "must not contain control characters")
    # Any layer that URL-decodes (a proxy, a framework, an object-store SDK) would see a
    # different path than we validated; refusing every decodable escape, including double
    # encodings like %252e, removes that whole class of traversal.
    if unquote(path) != path:
        raise _reject(path, "must not contain percent-encoded characters")
    body = path[:-1] if path.endswith("/") else path
    for segment in body.split("/"):
        _check_segment(path, segment)
    return body


def _check_segment(path: str, segment: str) -> None:
    if segment == "":
        raise _reject(path, "must not contain empty segments ('//')")
    if segment in (".", ".."):
        raise _reject(path, f"must not contain a {segment!r} segment")
    if is_reserved_name(segment):
        raise _reject(path, f"{segment!r} is a name reserved by Griffin")
    try:
        size = len(segment.encode("utf-8"))
    except UnicodeEncodeError:
        # Lone surrogates cannot be stored under any backend's encoding.
        raise _reject(path, "is not valid Unicode") from None
    if size > MAX_SEGMENT_BYTES:
        raise _reject(path, f"a segment is longer than {MAX_SEGMENT_BYTES} bytes")


def join_under(root: str, relative: str) -> str:
    """Build a storage key: ``relative`` placed under the key prefix ``root``.

    Both parts are validated (``root`` may be ``""`` for the store's own root), so a key built
    here can never climb out of ``root``. ``relative`` must be non-empty: joining an empty
    path would silently address the whole of ``root``, which is how a "delete this artifact"
    call turns into "delete the run's artifacts".

    Raises:
        InvalidArgument: if either part is not a clean relative path.
    """
    rel = clean_relative_path(relative)
    if root == "":
        return rel
    return f"{clean_relative_path(root)}/{rel}"
