"""Authenticating a request: every call reads the workspace's current key hash, so a rotated
key stops working at once in every API process."""

from __future__ import annotations

from roster.domain.credentials import key_matches, parse_authorization, workspace_of_key
from roster.domain.errors import AuthenticationFailed, WorkspaceMismatch
from roster.domain.workspaces import Workspace
from roster.store import workspaces
from roster.store.database import Database


def authenticate(db: Database, header: str | None, path_workspace: str | None) -> Workspace:
    """The caller's workspace; ``path_workspace`` (from the path or query) must be it."""
    creds = parse_authorization(header)
    workspace_id = creds.workspace_id or workspace_of_key(creds.api_key)
    workspace = None
    if workspace_id is not None:
        with db.read() as conn:
            found = workspaces.get_with_hash(conn, workspace_id)
        if found is not None and key_matches(creds.api_key, found[1]):
            workspace = found[0]
    if workspace is None:
        raise AuthenticationFailed("the workspace id or API key is not valid")
    if path_workspace is not None and path_workspace != workspace.id:
        raise WorkspaceMismatch(
            "the workspace in the request does not match the credentials", field="workspace_id"
        )
    return workspace
