"""Griffin's one error tree.

Every error a user can cause or meet has a stable ``code`` (part of the API contract: scripts
match on it), an HTTP status (the server maps errors once, in ``griffin.server.errors``) and a
one-line ``headline`` that the CLI prints instead of a traceback. The SDK rebuilds the same class
from a JSON error body with :func:`from_payload`, so ``except griffin.NotFound`` works the same
in-process and over HTTP.

::

    GriffinError                      500  INTERNAL
    ├── InvalidArgument               400  INVALID_ARGUMENT
    │   └── ConfigError               400  CONFIG_ERROR
    ├── Unauthenticated               401  UNAUTHENTICATED
    ├── PermissionDenied              403  PERMISSION_DENIED
    ├── NotFound                      404  NOT_FOUND
    ├── AlreadyExists                 409  ALREADY_EXISTS
    ├── Conflict                      409  CONFLICT
    ├── MethodNotAllowed              405  METHOD_NOT_ALLOWED
    ├── PayloadTooLarge               413  PAYLOAD_TOO_LARGE
    ├── NotSupported                  501  NOT_SUPPORTED
    └── BackendUnavailable            503  BACKEND_UNAVAILABLE
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExists",
    "BackendUnavailable",
    "ConfigError",
    "Conflict",
    "GriffinError",
    "InvalidArgument",
    "MethodNotAllowed",
    "NotFound",
    "NotSupported",
    "PayloadTooLarge",
    "PermissionDenied",
    "Unauthenticated",
    "class_for_status",
    "from_payload",
]


class GriffinError(Exception):
    """Base of every Griffin error.

    Args:
        message: what went wrong and, where it helps, how to fix it.
        details: machine-readable context (the offending field, the id that was not found).
    """

    code: ClassVar[str] = "INTERNAL"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    @property
    def headline(self) -> str:
        """One line for a terminal: no traceback, just what was wrong."""
        first = self.message.strip().splitlines()[0] if self.message.strip() else self.code
        return first

    def to_payload(self) -> dict[str, Any]:
        """The JSON error body the server sends and :func:`from_payload` reads back."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidArgument(GriffinError):
    """The request is malformed: a bad name, a value out of range, an unknown field."""

    code = "INVALID_ARGUMENT"
    http_status = 400


class ConfigError(InvalidArgument):
    """A configuration file or setting is wrong; the message names the file, line or key."""

    code = "CONFIG_ERROR"


class Unauthenticated(GriffinError):
    """No token, or a token the server does not know (or has revoked)."""

    code = "UNAUTHENTICATED"
    http_status = 401


class PermissionDenied(GriffinError):
    """The token is valid but its role or project does not allow this call."""

    code = "PERMISSION_DENIED"
    http_status = 403


class NotFound(GriffinError):
    """The named object does not exist (or is not visible to the caller)."""

    code = "NOT_FOUND"
    http_status = 404


class MethodNotAllowed(GriffinError):
    """The endpoint exists but does not take this HTTP method."""

    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class AlreadyExists(GriffinError):
    """An object with this name already exists."""

    code = "ALREADY_EXISTS"
    http_status = 409


class Conflict(GriffinError):
    """The object's current state does not allow this change (e.g. a finished run)."""

    code = "CONFLICT"
    http_status = 409


class PayloadTooLarge(GriffinError):
    """A request body or upload is over the configured limit."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class NotSupported(GriffinError):
    """The configured backend does not implement this optional capability."""

    code = "NOT_SUPPORTED"
    http_status = 501


class BackendUnavailable(GriffinError):
    """A backing service (database, Redis, object store) cannot be reached."""

    code = "BACKEND_UNAVAILABLE"
    http_status = 503


def _all_classes() -> dict[str, type[GriffinError]]:
    found: dict[str, type[GriffinError]] = {}
    pending: list[type[GriffinError]] = [GriffinError]
    while pending:
        cls = pending.pop()
        # Parents are visited before their subclasses, so a private subclass that reuses its
        # parent's code (e.g. an internal GriffinError) never shadows the public class.
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


def from_payload(status: int, payload: Any) -> GriffinError:
    """Rebuild the error class the server raised from its JSON body.

    Unknown codes (a newer server) fall back to the nearest class for the HTTP status, so
    clients keep working when the tree grows.
    """
    body = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(body, dict):
        message = f"server answered HTTP {status}"
        if isinstance(payload, dict) and "detail" in payload:
            message += f": {payload['detail']}"
        return class_for_status(status)(message)
    code = str(body.get("code", ""))
    message = str(body.get("message", "")) or f"server answered HTTP {status}"
    details = body.get("details") if isinstance(body.get("details"), dict) else None
    cls = _all_classes().get(code) or class_for_status(status)
    return cls(message, details=details)


def class_for_status(status: int) -> type[GriffinError]:
    """The error class that stands for an HTTP status (``GriffinError`` if none does)."""
    by_status: dict[int, type[GriffinError]] = {
        400: InvalidArgument,
        401: Unauthenticated,
        403: PermissionDenied,
        404: NotFound,
        405: MethodNotAllowed,
        409: Conflict,
        413: PayloadTooLarge,
        422: InvalidArgument,
        501: NotSupported,
        503: BackendUnavailable,
    }
    return by_status.get(status, GriffinError)
