"""Projects, API tokens and the caller's identity."""

from __future__ import annotations

from griffin.client import wire
from griffin.client._base import ClientBase, segment
from griffin.domain.accounts import Principal, Project, Role, TokenInfo

__all__ = ["AccountsMixin"]


class AccountsMixin(ClientBase):
    def whoami(self) -> Principal:
        """Who the server takes this client for.

        Returns:
            The user, the project the token is scoped to (``"*"`` for site-wide) and its role.
            With auth off, the local OS user as a site-wide admin.

        Raises:
            Unauthenticated: the server requires a token and none (or a revoked one) was sent.
        """
        return wire.principal(self._call("GET", "/whoami"))

    def list_projects(self) -> list[Project]:
        """Projects the token can see.

        Returns:
            The projects, ordered by name.
        """
        return [wire.project(p) for p in self._call("GET", "/projects")]

    def create_project(self, name: str, description: str = "") -> Project:
        """Create a project.

        Args:
            name: unique; letters, digits, spaces and ``_-.``.
            description: free text.

        Returns:
            The new project.

        Raises:
            AlreadyExists: a project with this name exists.
            PermissionDenied: only a site-wide admin token may create projects.
        """
        body = {"name": name, "description": description}
        return wire.project(self._call("POST", "/projects", json=body))

    def create_token(
        self, user: str, role: Role | str, project: str | None = None, description: str = ""
    ) -> tuple[TokenInfo, str]:
        """Issue an API token.

        Args:
            user: who the token is for (created on first use).
            role: ``"viewer"``, ``"editor"`` or ``"admin"``.
            project: the project it is scoped to (``"*"`` for site-wide); the client's
                project when omitted.
            description: what the token is for.

        Returns:
            The token's record and its secret. The secret is shown this once: store it.

        Raises:
            PermissionDenied: the caller is not an admin of the project.
        """
        body = {"user": user, "role": str(Role(role)), "description": description}
        data = self._call("POST", f"{self._project_path(project)}/tokens", json=body)
        return wire.token(data), str(data["secret"])

    def list_tokens(self, project: str | None = None) -> list[TokenInfo]:
        """Tokens of a project (never their secrets).

        Args:
            project: the project; the client's project when omitted.

        Raises:
            PermissionDenied: the caller is not an admin of the project.
        """
        return [wire.token(t) for t in self._call("GET", f"{self._project_path(project)}/tokens")]

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token: requests sending it are refused from now on.

        Args:
            token_id: the token's id (from :meth:`list_tokens`), not its secret.

        Raises:
            NotFound: no token has this id.
            InvalidArgument: a token cannot revoke itself.
        """
        self._call("DELETE", f"/tokens/{segment(token_id)}")
