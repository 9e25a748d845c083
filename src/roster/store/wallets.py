"""Wallets (a balance per customer and reward) and their transactions, a batch at a time.

Amounts are decimal text; the services add them up as ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store import raw_sql
from roster.store.id_lists import among
from roster.store.schema import wallet_transactions as tt
from roster.store.schema import wallets as wt


@dataclass(slots=True)
class Wallet:
    uid: int
    reward_id: str
    opening_balance: Decimal
    balance: Decimal
    details: str
    created_at: int


def of_uids(conn: Connection, uids: Collection[int]) -> dict[int, dict[str, Wallet]]:
    """The wallets of these customers, by uid and reward."""
    found: dict[int, dict[str, Wallet]] = {}
    if not uids:
        return found
    query = sa.select(
        wt.c.uid, wt.c.reward_id, wt.c.opening_balance, wt.c.balance, wt.c.details, wt.c.created_at
    ).where(among(wt.c.uid, uids, conn.dialect.name))
    for uid, reward, opening, balance, details, created in conn.execute(query):
        found.setdefault(uid, {})[reward] = Wallet(
            uid, reward, Decimal(opening), Decimal(balance), details, created
        )
    return found


def with_transactions(conn: Connection, uids: Collection[int], *, live: bool) -> set[int]:
    """Those of ``uids`` that have at least one live (or one migrated) transaction."""
    if not uids:
        return set()
    query = (
        sa.select(tt.c.uid)
        .where(among(tt.c.uid, uids, conn.dialect.name), tt.c.live == live)
        .distinct()
    )
    return {int(uid) for uid in conn.execute(query).scalars()}


#: Column order of the tuples ``insert`` and ``replace_for`` take.
WALLET_COLUMNS = (
    "uid",
    "reward_id",
    "workspace_id",
    "opening_balance",
    "balance",
    "details",
    "migrated_batch",
    "created_at",
    "updated_at",
)


def replace_for(conn: Connection, uids: Collection[int], rows: Sequence[Sequence[Any]]) -> None:
    """Make the wallets of ``uids`` exactly ``rows`` (tuples in ``WALLET_COLUMNS`` order)."""
    if uids:
        conn.execute(sa.delete(wt).where(among(wt.c.uid, uids, conn.dialect.name)))
    insert(conn, rows)


def insert(conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
    """New wallets (tuples in ``WALLET_COLUMNS`` order)."""
    raw_sql.insert_rows(conn, "wallets", WALLET_COLUMNS, rows)


def set_balances(conn: Connection, rows: Sequence[tuple[int, str, str, int]]) -> None:
    """``(uid, reward_id, balance, updated_at)`` of wallets whose balance changed."""
    if not rows:
        return
    query = (
        sa.update(wt)
        .where(wt.c.uid == sa.bindparam("b_uid"), wt.c.reward_id == sa.bindparam("b_reward"))
        .values(balance=sa.bindparam("b_balance"), updated_at=sa.bindparam("b_at"))
    )
    conn.execute(
        query, [{"b_uid": u, "b_reward": r, "b_balance": b, "b_at": at} for u, r, b, at in rows]
    )


#: Column order of the tuples ``insert_transactions`` takes.
TRANSACTION_COLUMNS = (
    "workspace_id",
    "uid",
    "reward_id",
    "type",
    "amount",
    "live",
    "issued_at",
    "resolved_at",
    "details",
    "batch_id",
    "created_at",
)


def insert_transactions(conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
    raw_sql.insert_rows(conn, "wallet_transactions", TRANSACTION_COLUMNS, rows)


def streamed_transactions(
    conn: Connection,
) -> AbstractContextManager[Callable[[Sequence[Any]], None]]:
    """Append transaction rows one at a time (``raw_sql.row_stream``)."""
    return raw_sql.row_stream(conn, "wallet_transactions", TRANSACTION_COLUMNS)


def of_customer(conn: Connection, uid: int) -> list[dict[str, Any]]:
    query = sa.select(wt).where(wt.c.uid == uid).order_by(wt.c.reward_id)
    return [dict(r._mapping) for r in conn.execute(query)]


def transactions_of(conn: Connection, uid: int, *, limit: int) -> list[dict[str, Any]]:
    """A customer's transactions, the last recorded first."""
    query = sa.select(tt).where(tt.c.uid == uid).order_by(tt.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]
