"""Roles and principals (griffin.domain.accounts)."""

from __future__ import annotations

import pytest

from griffin.domain.accounts import ALL_PROJECTS, Principal, Role
from griffin.errors import PermissionDenied


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.EDITOR)
    assert Role.ADMIN.allows(Role.VIEWER)
    assert Role.EDITOR.allows(Role.VIEWER)
    assert Role.EDITOR.allows(Role.EDITOR)
    assert not Role.EDITOR.allows(Role.ADMIN)
    assert not Role.VIEWER.allows(Role.EDITOR)


@pytest.mark.parametrize(
    ("principal", "role", "project", "allowed"),
    [
        (Principal("u", "a", Role.VIEWER), Role.VIEWER, "a", True),
        (Principal("u", "a", Role.VIEWER), Role.EDITOR, "a", False),
        (Principal("u", "a", Role.ADMIN), Role.ADMIN, "a", True),
        (Principal("u", "a", Role.ADMIN), Role.VIEWER, "b", False),
        (Principal("u", ALL_PROJECTS, Role.VIEWER), Role.VIEWER, "b", True),
        (Principal("u", ALL_PROJECTS, Role.VIEWER), Role.EDITOR, "b", False),
        (Principal("u", ALL_PROJECTS, Role.ADMIN), Role.ADMIN, ALL_PROJECTS, True),
        (Principal("u", "a", Role.ADMIN), Role.ADMIN, ALL_PROJECTS, False),
    ],
)
def test_can_and_require_agree(
    principal: Principal, role: Role, project: str, allowed: bool
) -> None:
    assert principal.can(role, project) is allowed
    if allowed:
        principal.require(role, project)
    else:
        with pytest.raises(PermissionDenied):
            principal.require(role, project)


def test_messages_say_what_is_missing() -> None:
    with pytest.raises(PermissionDenied) as info:
        Principal("u", "a", Role.ADMIN).require(Role.VIEWER, "b")
    assert info.value.message == "this token is for project 'a', not 'b'"
    assert info.value.details == {"project": "b"}
    with pytest.raises(PermissionDenied) as info:
        Principal("u", "a", Role.VIEWER).require(Role.EDITOR, "a")
    assert "role 'viewer'" in info.value.message
    assert "needs 'editor'" in info.value.message
    assert info.value.details == {"project": "a", "needed": "editor"}
