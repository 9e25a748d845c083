"""Removing customers with everything they own, in the caller's transaction (a revert)."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.store.id_lists import among
from roster.store.schema import (
    customer_identifiers,
    customers,
    devices,
    events,
    group_members,
    wallet_transactions,
    wallets,
)

#: Every table holding rows of a customer, children before the customer itself.
OWNED = (events, wallet_transactions, wallets, devices, customer_identifiers, group_members)


def customers_and_all_they_own(conn: Connection, uids: Collection[int]) -> None:
    """Delete these customers, their events, transactions, wallets, devices, identifiers and
    group memberships."""
    if not uids:
        return
    dialect = conn.dialect.name
    for table in OWNED:
        conn.execute(sa.delete(table).where(among(table.c.uid, uids, dialect)))
    conn.execute(sa.delete(customers).where(among(customers.c.uid, uids, dialect)))
