"""The workspaces' turns in the fair claim (``domain.fairness``), kept in ``workspace_turns``."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from roster.domain.batches import Claimed
from roster.domain.fairness import next_turn
from roster.store.schema import workspace_turns as t

_TURN = sa.select(t.c.turn).where(t.c.workspace_id == sa.bindparam("workspace_id"))


def take(conn: Connection, group: Sequence[Claimed], now: int) -> None:
    """Move the workspace's turn past a group of its batches claimed at ``now`` (in the claim's
    transaction, which holds the workspace's head: no other claim of it runs meanwhile)."""
    if not group:
        return
    workspace_id = group[0].workspace_id
    turn = conn.execute(_TURN, {"workspace_id": workspace_id}).scalar()
    after = next_turn(0 if turn is None else int(turn), now, sum(b.elements for b in group))
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(t)
        .values(workspace_id=workspace_id, turn=after)
        .on_conflict_do_update(index_elements=[t.c.workspace_id], set_={"turn": after})
    )
