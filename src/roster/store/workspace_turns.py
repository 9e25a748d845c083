"""The workspaces' turns in the fair claim (``domain.fairness``), kept in ``workspace_turns``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from roster.domain.fairness import next_turn
from roster.store.schema import workspace_turns as t

_TURN = sa.select(t.c.turn).where(t.c.workspace_id == sa.bindparam("workspace_id"))


def take(conn: Connection, workspace_id: str, now: int, elements: int) -> int:
    """Move the workspace's turn past a claim of ``elements`` at ``now`` (in the claim's
    transaction, which holds the workspace's head: no other claim of it runs meanwhile)."""
    turn = conn.execute(_TURN, {"workspace_id": workspace_id}).scalar()
    after = next_turn(0 if turn is None else int(turn), now, elements)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(t)
        .values(workspace_id=workspace_id, turn=after)
        .on_conflict_do_update(index_elements=[t.c.workspace_id], set_={"turn": after})
    )
    return after
