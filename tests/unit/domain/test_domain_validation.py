"""Names, keys and value limits shared by every interface (griffin.domain.validation)."""

from __future__ import annotations

import pytest

from griffin.domain.validation import (
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    check_key,
    check_name,
    check_params,
    check_tags,
    check_user,
    check_value,
)
from griffin.errors import InvalidArgument


@pytest.mark.parametrize(
    "key", ["loss", "train/loss", "a.b", "val acc", "x:y", "a-b_c", "..a", "a..b", "k" * 250]
)
def test_good_keys(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "1 to 250"),
        ("k" * (MAX_KEY_LENGTH + 1), "1 to 250"),
        ("a/../b", "'..' path segments"),
        ("../etc", "'..' path segments"),
        ("a/./b", "'..' path segments"),
        ("/abs", "'..' path segments"),
        ("a//b", "'..' path segments"),
        ("a/", "'..' path segments"),
        ("..", "'..' path segments"),
        ("a\\b", "only letters"),
        ("a\nb", "only letters"),
        ("a%2e", "only letters"),
        ("naïve", "only letters"),
    ],
)
def test_bad_keys_name_the_field(key: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        check_key(key, field="metric key")
    assert info.value.details == {"field": "metric key"}
    assert info.value.message.startswith("invalid metric key ")
    assert reason in info.value.message


@pytest.mark.parametrize("name", ["exp", "Exp 1", "a.b-c_d", "0day", "n" * MAX_NAME_LENGTH])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", " lead", "-x", ".hidden", "a/b", "a\\b", "n" * (MAX_NAME_LENGTH + 1), "*"]
)
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        check_name(name, field="experiment name")
    assert info.value.details == {"field": "experiment name"}
    assert "invalid experiment name" in info.value.message


def test_value_limit() -> None:
    assert check_value("x" * 10, limit=10, field="param 'lr'") == "x" * 10
    with pytest.raises(InvalidArgument) as info:
        check_value("x" * 11, limit=10, field="param 'lr'")
    assert info.value.message == "param 'lr' is 11 characters long; the limit is 10"
    assert info.value.details == {"field": "param 'lr'"}


@pytest.mark.parametrize("name", ["alice", "alice@example.com", "a.b-c_d+ci", "7"])
def test_user_names_allow_email_style_logins(name: str) -> None:
    assert check_user(name) == name


@pytest.mark.parametrize("name", ["", "a b", "-x", "a/b", "x" * 129, "a\nb", "alice\n"])
def test_bad_user_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid user name"):
        check_user(name)


@pytest.mark.parametrize("value", ["loss\n", "loss\r\n"])
def test_trailing_newlines_are_not_valid_keys_or_names(value: str) -> None:
    with pytest.raises(InvalidArgument):
        check_key(value)
    with pytest.raises(InvalidArgument):
        check_name(value)


def test_params_and_tags_are_checked_the_same_way() -> None:
    assert check_params({"lr": "0.1"}) == {"lr": "0.1"}
    assert check_tags({"team": "eta"}) == {"team": "eta"}
    with pytest.raises(InvalidArgument, match="1001 params in one call; the limit is 1000"):
        check_params({f"p{i}": "v" for i in range(1001)})
    with pytest.raises(InvalidArgument, match="1001 tags in one call"):
        check_tags({f"t{i}": "v" for i in range(1001)})
    with pytest.raises(InvalidArgument, match="invalid tag key"):
        check_tags({"a/../b": "v"})
    with pytest.raises(InvalidArgument, match="param 'x' is 8001 characters"):
        check_params({"x": "v" * 8001})
