"""Per-workspace, per-minute fixed-window counters shared by every API process."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from roster.store.schema import rate_windows as t


def charge(
    conn: Connection,
    workspace_id: str,
    window_start: int,
    users: int,
    events: int,
    merges: int = 0,
) -> tuple[int, int, int]:
    """Add to the window's counters and return its new totals (rolled back with the request)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    values = insert(t).values(
        workspace_id=workspace_id,
        window_start=window_start,
        users=users,
        events=events,
        merges=merges,
    )
    stmt = values.on_conflict_do_update(
        index_elements=[t.c.workspace_id, t.c.window_start],
        set_={
            "users": t.c.users + users,
            "events": t.c.events + events,
            "merges": t.c.merges + merges,
        },
    ).returning(t.c.users, t.c.events, t.c.merges)
    row = conn.execute(stmt).one()
    return int(row.users), int(row.events), int(row.merges)


def forget_before(conn: Connection, cutoff: int) -> None:
    conn.execute(sa.delete(t).where(t.c.window_start < cutoff))
