"""A customer's loyalty state as the read API shows it: wallet, metrics, tier, transactions.

Metrics are computed when read, from the customer's ``PURCHASE`` events, for each calendar
period (UTC) around the time of the read; until a migrated customer's events are migrated,
the metrics sent with its migration are shown as sent. The tier follows the workspace's
current thresholds on lifetime ``spend_total``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

from roster.domain.loyalty import (
    PURCHASE,
    amount_json,
    amount_of,
    purchase_metrics,
    tier_for,
)
from roster.domain.timestamps import format_ms
from roster.domain.timestamps import format_optional_ms as _iso
from roster.domain.workspaces import Workspace
from roster.store import events as event_store
from roster.store import wallets as wallet_store


def loyalty_view(
    conn: Connection, workspace: Workspace, row: dict[str, Any], now_ms: int
) -> dict[str, Any]:
    """``wallet``, ``metrics`` and ``tier`` of a customer row, read in the caller's snapshot."""
    wallet = [
        {
            "reward_id": w["reward_id"],
            "balance": amount_json(Decimal(w["balance"])),
            "opening_balance": amount_json(Decimal(w["opening_balance"])),
            "details": msgspec.json.decode(w["details"]),
            "updated_at": format_ms(w["updated_at"]),
        }
        for w in wallet_store.of_customer(conn, row["uid"])
    ]
    if row["metrics"] is not None:
        sent = msgspec.json.decode(row["metrics"])
        metrics = {**sent, "source": "migration"}
        lifetime = _sent_spend(sent)
    else:
        purchases = [
            (at, None if value is None else Decimal(value))
            for at, value in event_store.purchases_of(conn, row["uid"], (PURCHASE,))
        ]
        computed = purchase_metrics(purchases, now_ms)
        metrics = {
            name: {
                "spend_total": amount_json(m.spend_total),
                "number_of_purchases": m.number_of_purchases,
                "last_purchase_at": _iso(m.last_purchase_at),
            }
            for name, m in computed.items()
        }
        metrics["source"] = "events"
        lifetime = computed["lifetime"].spend_total
    tier = tier_for(workspace.tiers, lifetime) if lifetime is not None else None
    return {"wallet": wallet, "metrics": metrics, "tier": tier}


def _sent_spend(sent: Any) -> Decimal | None:
    """Lifetime ``spend_total`` of metrics sent with a migration, if it is a number."""
    lifetime = sent.get("lifetime") if isinstance(sent, dict) else None
    value = lifetime.get("spend_total") if isinstance(lifetime, dict) else None
    try:
        return None if value is None else amount_of(value)
    except (ValueError, InvalidOperation):
        return None


def transactions_view(conn: Connection, uid: int, *, limit: int) -> list[dict[str, Any]]:
    return [
        {
            "transaction_id": t["id"],
            "reward_id": t["reward_id"],
            "type": t["type"],
            "amount": amount_json(Decimal(t["amount"])),
            "live": bool(t["live"]),
            "issued_at": _iso(t["issued_at"]),
            "resolved_at": _iso(t["resolved_at"]),
            "details": msgspec.json.decode(t["details"]),
            "batch_id": t["batch_id"],
            "recorded_at": format_ms(t["created_at"]),
        }
        for t in wallet_store.transactions_of(conn, uid, limit=limit)
    ]
