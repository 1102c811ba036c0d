"""Rules for client-supplied artifact paths (griffin.artifacts.paths)."""

from __future__ import annotations

import pytest

from griffin.artifacts.paths import (
    MAX_PATH_CHARS,
    MAX_SEGMENT_BYTES,
    clean_relative_path,
    join_under,
)
from griffin.errors import InvalidArgument


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("model/model.pkl", "model/model.pkl"),
        ("a.b/c-d_e.txt", "a.b/c-d_e.txt"),
        ("model/", "model"),
        ("x", "x"),
        ("..x/y..", "..x/y.."),
        ("100%", "100%"),  # a '%' that decodes to nothing else is just a character
        ("dir/with space/f", "dir/with space/f"),
        ("ünïcødé/文件.bin", "ünïcødé/文件.bin"),
        (".griffinrc", ".griffinrc"),
        ("ab/c:d", "ab/c:d"),
        ("a" * MAX_SEGMENT_BYTES, "a" * MAX_SEGMENT_BYTES),
    ],
)
def test_accepts_and_normalises(path: str, expected: str) -> None:
    assert clean_relative_path(path) == expected
    assert clean_relative_path(expected) == expected  # the result is a fixed point


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        (" a", "whitespace"),
        ("a ", "whitespace"),
        ("a\n", "whitespace"),
        ("/etc/passwd", "relative"),
        ("/", "relative"),
        ("C:/x", "drive letter"),
        ("c:x", "drive letter"),
        ("C:", "drive letter"),
        ("a:b", "drive letter"),  # drive-relative on Windows
        ("a\\b", "backslash"),
        ("..\\x", "backslash"),
        ("a\x00b", "control"),
        ("a\x1fb", "control"),
        ("a\x7fb", "control"),
        ("a\x85b", "control"),
        ("a\tb", "control"),
        ("%2e%2e/x", "percent"),
        ("%252e%252e/x", "percent"),
        ("a%2fb", "percent"),
        ("a%00", "percent"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        ("a/..", "'..'"),
        ("..", "'..'"),
        (".", "'.'"),
        ("./a", "'.'"),
        ("a/./b", "'.'"),
        ("a//b", "empty segment"),
        ("a//", "empty segment"),
        (".griffin", "reserved"),
        ("a/.griffin/b", "reserved"),
        (".GRIFFIN", "reserved"),
        (".griffin-tmp-0123", "reserved"),
        ("x" * (MAX_PATH_CHARS + 1), "longer than"),
        ("a/" + "b" * (MAX_SEGMENT_BYTES + 1), "longer than"),
        ("é" * 128, "longer than"),  # 128 characters, 256 bytes
        ("a\udc80b", "Unicode"),
    ],
)
def test_rejects(path: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        clean_relative_path(path)
    assert info.value.details == {"field": "path"}
    assert reason in info.value.message
    assert info.value.message.startswith("invalid artifact path ")


def test_message_names_the_path() -> None:
    with pytest.raises(InvalidArgument, match=r"'a/\.\./\.\./x'"):
        clean_relative_path("a/../../x")


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidArgument):
        clean_relative_path(b"a/b")  # type: ignore[arg-type]


def test_join_under() -> None:
    assert join_under("runs/r1/artifacts", "model/m.pkl") == "runs/r1/artifacts/model/m.pkl"
    assert join_under("", "m.pkl") == "m.pkl"
    assert join_under("runs/r1", "model/") == "runs/r1/model"


@pytest.mark.parametrize(
    ("root", "relative"),
    [
        ("runs/r1", "../r2/x"),
        ("runs/r1", ""),
        ("runs/r1", "/abs"),
        ("../up", "x"),
        ("/abs", "x"),
    ],
)
def test_join_under_rejects(root: str, relative: str) -> None:
    with pytest.raises(InvalidArgument):
        join_under(root, relative)
