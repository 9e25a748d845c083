"""Wallet invariants after any sequence of migrations, live transactions and reverts (property).

Whatever the order of operations, once the queue is drained: every wallet's balance equals its
opening balance plus its live transactions and is never below 0, and no event, device, wallet
or transaction exists without its customer.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import msgspec
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster_testkit import Harness, Tenant

CUSTOMERS = ("c0", "c1", "c2")
REWARDS = ("r0", "r1")
OWNED = ("events", "wallet_transactions", "wallets", "devices", "customer_identifiers")

#: Amounts up to the documented limits' precision (18 decimal places, 36 digits in all).
amounts = st.one_of(
    st.decimals(min_value=-300, max_value=300, places=2),
    st.decimals(min_value=-(10**17), max_value=10**17, places=18),
)
balances = st.dictionaries(
    st.sampled_from(REWARDS),
    st.one_of(
        st.decimals(min_value=0, max_value=500, places=2),
        st.decimals(min_value=0, max_value=10**17, places=18),
    ),
    max_size=2,
)
#: Bodies with exact decimals (``json`` would turn them into floats).
encode = msgspec.json.Encoder(decimal_format="number").encode
operation = st.one_of(
    st.tuples(st.just("migrate"), st.sampled_from(CUSTOMERS), balances),
    st.tuples(st.just("live"), st.sampled_from(CUSTOMERS), st.sampled_from(REWARDS), amounts),
    st.tuples(st.just("history"), st.sampled_from(CUSTOMERS), st.booleans()),
    st.tuples(st.just("events"), st.sampled_from(CUSTOMERS), st.integers(0, 3)),
    st.tuples(st.just("device"), st.sampled_from(CUSTOMERS)),
    st.tuples(st.just("revert"), st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3)),
)


def send(roster: Harness, tenant: Tenant, op: tuple[Any, ...], opened: dict[str, Any]) -> None:
    """Accept one operation (applied later, in accept order, by ``drain``)."""
    kind = op[0]
    if kind == "migrate":
        _, cid, balance = op
        opened[cid] = balance
        entry = {
            "id": cid,
            "email": f"{cid}@example.com",
            "balance": [{"reward_id": r, "amount": a} for r, a in balance.items()],
        }
        response = roster.masivo(tenant, "/customers/migrate", encode({"customers": [entry]}))
    elif kind == "live":
        _, cid, reward, amount = op
        body = {"type": "ACCUMULATION", "reward_id": reward, "amount": amount}
        response = roster.request(
            "POST",
            f"/v1/customers/{cid}/transactions",
            content=encode(body),
            headers=tenant.json_auth,
        )
    elif kind == "history":  # the sum matches what was last sent for it (or is off by 1)
        _, cid, exact = op
        sent = opened.get(cid, {})
        txs = [
            {"type": "MIGRATION", "reward_id": r, "amount": a + (0 if exact else 1)}
            for r, a in sent.items()
        ] or [{"type": "MIGRATION", "reward_id": "r0", "amount": 0 if exact else 1}]
        body = {"customers": [{"id": cid, "transactions": txs}]}
        response = roster.masivo(tenant, "/customers/migrate/transactions", encode(body))
    elif kind == "events":
        _, cid, n = op
        events = [
            {"type": "PURCHASE", "order": {"purchase_id": f"{cid}-{i}", "value": 10},
             "issued_at": "2024-06-01T00:00:00Z"}
            for i in range(n + 1)
        ]  # fmt: skip
        response = roster.masivo(
            tenant, "/customers/migrate/events", {"customers": [{"id": cid, "events": events}]}
        )
    elif kind == "device":
        _, cid = op
        device = {"type": "device", "customer_id": cid, "device_id": f"{cid}-d",
                  "attributes": {"platform": "ANDROID", "push_id": "tok"}}  # fmt: skip
        response = roster.transition(tenant, [device])
    else:
        _, ids = op
        response = roster.masivo(tenant, "/customers/migrate", {"customers": ids}, method="DELETE")
    assert response.status_code in (200, 201, 202), response.text


def violations(roster: Harness, workspace_id: str) -> list[str]:
    found = []
    with roster.db.read() as conn:
        wallets = conn.execute(
            sa.text("SELECT uid, reward_id, opening_balance, balance FROM wallets"
                    " WHERE workspace_id = :ws"), {"ws": workspace_id}
        ).all()  # fmt: skip
        live = conn.execute(
            sa.text("SELECT uid, reward_id, amount FROM wallet_transactions"
                    " WHERE workspace_id = :ws AND live = :live"),
            {"ws": workspace_id, "live": True},
        ).all()  # fmt: skip
        for table in OWNED:
            orphans = conn.execute(
                sa.text(
                    f"SELECT count(*) FROM {table} t WHERE NOT EXISTS"
                    " (SELECT 1 FROM customers c WHERE c.uid = t.uid)"
                )
            ).scalar_one()
            if orphans:
                found.append(f"{orphans} rows of {table} without their customer")
    with localcontext(prec=100):  # exact at the amounts' 36 digits
        return found + _balance_violations(wallets, live)


def _balance_violations(wallets: list[Any], live: list[Any]) -> list[str]:
    found = []
    spent: dict[tuple[int, str], Decimal] = {}
    for uid, reward, amount in live:
        spent[(uid, reward)] = spent.get((uid, reward), Decimal(0)) + Decimal(amount)
    for uid, reward, opening, balance in wallets:
        expected = Decimal(opening) + spent.pop((uid, reward), Decimal(0))
        if Decimal(balance) != expected:
            found.append(f"wallet {uid}/{reward}: balance {balance}, expected {expected}")
        if Decimal(balance) < 0:
            found.append(f"wallet {uid}/{reward} is below 0: {balance}")
    found += [f"live transactions of {key} without a wallet" for key in spent]
    return found


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_wallets_balance_and_nothing_is_orphaned_after_any_sequence(
    roster: Harness, ops: list[tuple[Any, ...]]
) -> None:
    """Random operations, accepted in order and applied: the wallet invariant holds and no
    row outlives its customer; every batch ends done."""
    tenant = roster.tenant()
    opened: dict[str, Any] = {}
    for op in ops:
        send(roster, tenant, op, opened)
    roster.drain()
    assert violations(roster, tenant.id) == []
    statuses = {b["status"] for b in roster.get("/v1/batches", tenant).json()["batches"]}
    assert statuses == {"done"}
