"""Creating workspaces, rotating their keys and changing their settings (CLI and API)."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from roster.domain.credentials import hash_key, new_api_key, new_workspace_id
from roster.domain.element_rules import excerpt
from roster.domain.errors import Conflict, InvalidSetting, NotFound
from roster.domain.identity import identifier_pairs
from roster.domain.loyalty import amount_json, tiers_of
from roster.domain.workspaces import Limits, Workspace, limits_preset
from roster.store import profiles, workspaces
from roster.store.database import Database


def create(db: Database, name: str, *, default_limits: str) -> tuple[Workspace, str]:
    """A new workspace and its API key (the only time the key is shown)."""
    if not name.strip() or len(name) > 200:
        raise InvalidSetting("workspace name must be 1-200 characters", field="name")
    now = int(time.time() * 1000)
    ws = Workspace(new_workspace_id(), name, now, now, limits=limits_preset(default_limits))
    key = new_api_key(ws.id)
    with db.write() as conn:
        workspaces.insert(conn, ws, hash_key(key))
    return ws, key


def rotate_key(db: Database, workspace_id: str, *, rotated_at: int | None = None) -> str:
    """A new API key (the old one stops at once). With ``rotated_at`` (when the caller saw the
    key last rotated), only if no one rotated it since: a form sent twice rotates it once."""
    key = new_api_key(workspace_id)
    now = int(time.time() * 1000)
    with db.write() as conn:
        if not workspaces.set_key(conn, workspace_id, hash_key(key), now, rotated_at=rotated_at):
            if rotated_at is not None and workspaces.get(conn, workspace_id) is not None:
                msg = "the key was rotated since this page was shown: no new key was made"
                raise Conflict(msg, field="rotated_at")
            raise NotFound(f"workspace {excerpt(workspace_id)} not found", field="workspace_id")
    return key


def show(db: Database, workspace_id: str) -> Workspace:
    with db.read() as conn:
        ws = workspaces.get(conn, workspace_id)
    if ws is None:
        raise NotFound(f"workspace {excerpt(workspace_id)} not found", field="workspace_id")
    return ws


def describe(ws: Workspace) -> dict[str, Any]:
    """A workspace's settings as the CLI prints them and the API returns them."""
    return {
        "workspace_id": ws.id,
        "name": ws.name,
        "identity_resolution": ws.identity_resolution,
        "identifiers": list(ws.identifiers),
        "limits": {
            "users_per_minute": ws.limits.users_per_minute,
            "events_per_minute": ws.limits.events_per_minute,
            "merges_per_minute": ws.limits.merges_per_minute,
        },
        "tiers": [{"name": t.name, "threshold": amount_json(t.threshold)} for t in ws.tiers],
    }


def list_all(db: Database) -> list[Workspace]:
    with db.read() as conn:
        return workspaces.list_all(conn)


def configure(
    db: Database,
    workspace_id: str,
    *,
    identity_resolution: bool | None = None,
    identifiers: list[str] | None = None,
    limits: str | None = None,
    users_per_minute: int | None = None,
    events_per_minute: int | None = None,
    merges_per_minute: int | None = None,
) -> Workspace:
    """Change the given settings and keep the others."""
    with db.write() as conn:
        workspaces.lock_for_settings(conn, workspace_id)
        ws = workspaces.get(conn, workspace_id)
        if ws is None:
            raise NotFound(f"workspace {excerpt(workspace_id)} not found", field="workspace_id")
        if identity_resolution is not None:
            ws = replace(ws, identity_resolution=identity_resolution)
        if identifiers is not None and tuple(identifiers) != ws.identifiers:
            ws = ws.with_identifiers(identifiers)
            names = ws.identifiers
            profiles.rebuild_identifiers(conn, ws.id, lambda a: identifier_pairs(names, a))
        if limits is not None:
            ws = replace(ws, limits=limits_preset(limits))
        overrides = {
            "users_per_minute": users_per_minute,
            "events_per_minute": events_per_minute,
            "merges_per_minute": merges_per_minute,
        }
        ws = replace(ws, limits=_override(ws.limits, overrides))
        workspaces.save_settings(conn, ws)
    return ws


def set_tiers(db: Database, workspace_id: str, tiers: list[tuple[Any, Any]]) -> Workspace:
    """Replace the workspace's tier rules (``(name, threshold)`` pairs, in any order; an empty
    list removes them). Profiles show the tier of the rules in force when they are read."""
    rules = tiers_of(tiers)
    with db.write() as conn:
        workspaces.lock_for_settings(conn, workspace_id)
        ws = workspaces.get(conn, workspace_id)
        if ws is None:
            raise NotFound(f"workspace {excerpt(workspace_id)} not found", field="workspace_id")
        ws = replace(ws, tiers=rules)
        workspaces.save_settings(conn, ws)
    return ws


def _override(limits: Limits, values: dict[str, int | None]) -> Limits:
    """``limits`` with the given per-minute budgets (``0`` means unlimited; ``None`` keeps)."""
    for name, value in values.items():
        if value is not None and value < 0:
            raise InvalidSetting(f"{name} must be 0 (unlimited) or more", field=name)
    given = {name: value or None for name, value in values.items() if value is not None}
    return replace(limits, **given)
