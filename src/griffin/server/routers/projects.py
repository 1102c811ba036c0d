"""Projects, tokens and the caller's identity."""

from __future__ import annotations

from fastapi import APIRouter, status

from griffin.accounts import service
from griffin.server.deps import CurrentPlatform, CurrentPrincipal
from griffin.server.schemas.accounts import (
    ProjectCreate,
    ProjectOut,
    TokenCreate,
    TokenOut,
    WhoAmI,
)

router = APIRouter(tags=["projects"])


@router.get("/whoami")
def whoami(principal: CurrentPrincipal) -> WhoAmI:
    """Who the token belongs to, and its project and role."""
    return WhoAmI.of(principal)


@router.get("/projects")
def list_projects(platform: CurrentPlatform, principal: CurrentPrincipal) -> list[ProjectOut]:
    """Projects the caller can see."""
    return [ProjectOut.of(p) for p in service.list_projects(platform.db, principal)]


@router.post("/projects", status_code=status.HTTP_201_CREATED)
def create_project(
    body: ProjectCreate, platform: CurrentPlatform, principal: CurrentPrincipal
) -> ProjectOut:
    """Create a project (site-wide admin token)."""
    return ProjectOut.of(
        service.create_project(platform.db, principal, body.name, body.description)
    )


@router.get("/projects/{project}")
def get_project(project: str, platform: CurrentPlatform, principal: CurrentPrincipal) -> ProjectOut:
    return ProjectOut.of(service.get_project(platform.db, principal, project))


@router.post("/projects/{project}/tokens", status_code=status.HTTP_201_CREATED)
def create_token(
    project: str, body: TokenCreate, platform: CurrentPlatform, principal: CurrentPrincipal
) -> TokenOut:
    """Issue a token for the project; the secret is in this response only."""
    info, secret = service.create_token(
        platform.db,
        principal,
        user=body.user,
        project=project,
        role=body.role,
        description=body.description,
    )
    return TokenOut.of(info, secret)


@router.get("/projects/{project}/tokens")
def list_tokens(
    project: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> list[TokenOut]:
    return [TokenOut.of(t) for t in service.list_tokens(platform.db, principal, project)]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(
    token_id: str,
    platform: CurrentPlatform,
    principal: CurrentPrincipal,
) -> None:
    service.revoke_token(platform.db, principal, token_id)
