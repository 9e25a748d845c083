"""Authenticating a request: every call reads the workspace's current key hash, so a rotated
key stops working at once in every API process."""

from __future__ import annotations

from roster.domain.credentials import hash_key, key_matches, parse_authorization
from roster.domain.errors import AuthenticationFailed, WorkspaceMismatch
from roster.domain.workspaces import Workspace
from roster.store import workspaces
from roster.store.database import Database


def authenticate(db: Database, header: str | None, path_workspace: str | None) -> Workspace:
    """The caller's workspace; ``path_workspace`` (from the path or query) must be it."""
    creds = parse_authorization(header)
    with db.read() as conn:
        if creds.workspace_id is not None:
            found = workspaces.get_with_hash(conn, creds.workspace_id)
            workspace = found[0] if found and key_matches(creds.api_key, found[1]) else None
        else:
            workspace = workspaces.find_by_key_hash(conn, hash_key(creds.api_key))
    if workspace is None:
        raise AuthenticationFailed("the workspace id or API key is not valid")
    if path_workspace is not None and path_workspace != workspace.id:
        raise WorkspaceMismatch(
            "the workspace in the request does not match the credentials", field="workspace_id"
        )
    return workspace
