"""Request-scoped helpers shared by the routes: the container and the caller's workspace."""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from roster.bootstrap import Container
from roster.domain.workspaces import Workspace
from roster.services.intake.auth import authenticate


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def workspace_of(request: Request, path_workspace: str | None = None) -> Workspace:
    """Authenticate the request (401/403) and return the caller's workspace."""
    db = container(request).db
    header = request.headers.get("authorization")
    workspace = await run_in_threadpool(authenticate, db, header, path_workspace)
    request.state.workspace_id = workspace.id  # for the access log
    return workspace


async def caller(request: Request) -> Workspace:
    """FastAPI dependency: the workspace of the credentials, for routes without one in the path."""
    return await workspace_of(request)
