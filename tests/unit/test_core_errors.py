"""The error tree: stable codes, statuses, and the round trip through a JSON body."""

from __future__ import annotations

import json

import pytest

import griffin.errors as errors_module
from griffin.errors import (
    AlreadyExists,
    BackendUnavailable,
    ConfigError,
    Conflict,
    GriffinError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    NotSupported,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
    from_payload,
)

ALL_ERRORS: list[type[GriffinError]] = [
    GriffinError,
    InvalidArgument,
    ConfigError,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    Conflict,
    MethodNotAllowed,
    PayloadTooLarge,
    NotSupported,
    BackendUnavailable,
]

EXPECTED = {
    GriffinError: ("INTERNAL", 500),
    InvalidArgument: ("INVALID_ARGUMENT", 400),
    ConfigError: ("CONFIG_ERROR", 400),
    Unauthenticated: ("UNAUTHENTICATED", 401),
    PermissionDenied: ("PERMISSION_DENIED", 403),
    NotFound: ("NOT_FOUND", 404),
    AlreadyExists: ("ALREADY_EXISTS", 409),
    Conflict: ("CONFLICT", 409),
    MethodNotAllowed: ("METHOD_NOT_ALLOWED", 405),
    PayloadTooLarge: ("PAYLOAD_TOO_LARGE", 413),
    NotSupported: ("NOT_SUPPORTED", 501),
    BackendUnavailable: ("BACKEND_UNAVAILABLE", 503),
}


def _public_error_classes() -> set[type[GriffinError]]:
    found = set()
    for name in errors_module.__all__:
        value = getattr(errors_module, name)
        if isinstance(value, type) and issubclass(value, GriffinError):
            found.add(value)
    return found


def test_the_list_covers_every_exported_error() -> None:
    assert _public_error_classes() == set(ALL_ERRORS)


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_code_and_status_are_stable(cls: type[GriffinError]) -> None:
    assert (cls.code, cls.http_status) == EXPECTED[cls]
    # The docstring of the module draws the tree; each class appears there with its code.
    assert errors_module.__doc__ is not None
    assert f"{cls.__name__} " in errors_module.__doc__
    assert cls.code in errors_module.__doc__


@pytest.mark.parametrize("cls", ALL_ERRORS, ids=lambda c: c.__name__)
def test_round_trip_rebuilds_the_same_class(cls: type[GriffinError]) -> None:
    error = cls("run r1 does not exist\nsecond line", details={"run_id": "r1"})
    payload = json.loads(json.dumps(error.to_payload()))
    rebuilt = from_payload(cls.http_status, payload)
    assert type(rebuilt) is cls
    assert rebuilt.message == error.message
    assert rebuilt.details == {"run_id": "r1"}
    assert rebuilt.code == cls.code
    assert rebuilt.headline == "run r1 does not exist"


def test_payload_shape() -> None:
    error = NotFound("experiment 'x' does not exist", details={"experiment": "x"})
    assert error.to_payload() == {
        "error": {
            "code": "NOT_FOUND",
            "message": "experiment 'x' does not exist",
            "details": {"experiment": "x"},
        }
    }
    assert repr(error) == "NotFound(\"experiment 'x' does not exist\")"
    assert str(error) == "experiment 'x' does not exist"


def test_subclasses_are_caught_by_their_parents() -> None:
    with pytest.raises(InvalidArgument):
        raise ConfigError("bad")
    assert issubclass(ConfigError, GriffinError)
    assert all(issubclass(cls, Exception) for cls in ALL_ERRORS)


def test_headline_of_an_empty_message_is_the_code() -> None:
    assert Conflict("").headline == "CONFLICT"
    assert Conflict("  \n  ").headline == "CONFLICT"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidArgument),
        (401, Unauthenticated),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (422, InvalidArgument),
        (501, NotSupported),
        (503, BackendUnavailable),
        (500, GriffinError),
        (418, GriffinError),
    ],
)
def test_unknown_code_falls_back_by_status(status: int, cls: type[GriffinError]) -> None:
    payload = {"error": {"code": "SOMETHING_NEWER", "message": "new kind of error"}}
    rebuilt = from_payload(status, payload)
    assert type(rebuilt) is cls
    assert rebuilt.message == "new kind of error"
    assert rebuilt.details == {}


def test_body_without_error_object() -> None:
    rebuilt = from_payload(404, {"detail": "Not Found"})
    assert type(rebuilt) is NotFound
    assert rebuilt.message == "server answered HTTP 404: Not Found"
    assert type(from_payload(502, "<html>bad gateway</html>")) is GriffinError
    assert from_payload(503, None).message == "server answered HTTP 503"


def test_malformed_error_fields_are_tolerated() -> None:
    rebuilt = from_payload(409, {"error": {"code": "ALREADY_EXISTS", "details": ["x"]}})
    assert type(rebuilt) is AlreadyExists
    assert rebuilt.message == "server answered HTTP 409"
    assert rebuilt.details == {}


def test_a_private_subclass_never_shadows_its_public_class() -> None:
    class _Internal(NotFound):
        """Reuses NOT_FOUND, as internal helpers do."""

    assert _Internal.code == "NOT_FOUND"
    assert type(from_payload(404, NotFound("gone").to_payload())) is NotFound
    assert type(from_payload(500, GriffinError("boom").to_payload())) is GriffinError
