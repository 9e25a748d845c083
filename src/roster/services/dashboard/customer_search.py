"""Finding a customer from what an operator types: a customer id, a uid, the value of one of
the workspace's identifiers (``email``, ``moe_mobile``, an anonymous id), or any attribute's
value (a listing, ``services.reads.customer_list``)."""

from __future__ import annotations

from typing import Any

from roster.domain.errors import RosterError
from roster.domain.identity import ANONYMOUS_ID
from roster.domain.workspaces import Workspace
from roster.services.reads import cursors, customer_list, profiles
from roster.store.database import Database

#: What the search box may look by, besides an identifier's name.
AUTO, CUSTOMER_ID, UID, ATTRIBUTE = "any", "customer_id", "uid", "attribute"
MATCHES_SHOWN = 50


def lookups(workspace: Workspace) -> list[str]:
    """The ``by`` choices of the search form, ``any`` first."""
    return [AUTO, CUSTOMER_ID, UID, *workspace.identifiers, ANONYMOUS_ID, ATTRIBUTE]


def find_uid(db: Database, workspace: Workspace, text: str, by: str = AUTO) -> int | None:
    """The uid of the customer ``text`` names (by ``by``; ``any``: customer id, then each
    identifier, then uid), or ``None``."""
    names = [*workspace.identifiers, ANONYMOUS_ID]
    tries: list[dict[str, Any]] = []
    if by in (AUTO, CUSTOMER_ID):
        tries.append({"customer_id": text})
    tries += [{"customer_id": None, "identifier": (n, text)} for n in names if by in (AUTO, n)]
    if by in (AUTO, UID) and cursors.is_number(text):
        tries.append({"customer_id": None, "uid": int(text)})
    for lookup in tries:  # the customer's row alone: its page reads the rest
        try:
            found = profiles.find_customer(db, workspace, **lookup)
        except RosterError:  # not found, or a value the identifier cannot hold
            continue
        return int(found["uid"])
    return None


def matches(
    db: Database,
    workspace: Workspace,
    attribute: str | None = None,
    value: str | None = None,
    *,
    after: str | None,
) -> dict[str, Any]:
    """A page of the customers whose ``attribute`` is ``value``, or of every customer without
    them, in uid order (``customers`` and ``next``)."""
    chosen = customer_list.customer_filter(workspace, attribute=attribute, value=value)
    return customer_list.listing(
        db, workspace, chosen, after=after, limit=MATCHES_SHOWN, with_count=False
    )
