"""The loyalty migration stage (issue 3): customers with balances, then events, then
transactions, through Masivo's three endpoints, against the raw insert of the same rows.

``--full``: 20,000 customers (one reward each), 200,000 ``PURCHASE`` events (10 each) and
100,000 transactions (5 each, summing exactly to the balance, some with cents); ``--quick``
a tenth. Bodies hold 1,000 entries (the vendor's cap). The three phases are posted one after
the other (4 requests in flight each), so every customer is accepted before its events.

The anchor (``LM_SQLITE`` / ``LM_PG``) inserts the rows those requests store (customers, their
email index entries, wallets, events, wallet transactions) into Roster's own tables in a fresh
database, with ``executemany`` / ``COPY``, one commit per 1,000 rows.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench import anchors, e2e, load, pg, server
from bench.config import SEED, Profile
from bench.probe import Probe
from roster.store.events import COLUMNS as EVENT_COLUMNS
from roster.store.wallets import TRANSACTION_COLUMNS, WALLET_COLUMNS

API = "/api/storefront/v1/customers/migrate"
PER_BODY = 1000
EVENTS_EACH = 10
TRANSACTIONS_EACH = 5
REWARD = "3f0c8a52-9c1e-4a57-9d43-6f0e3d0b2a11"
ANCHOR_WORKSPACE = "BENCHMIGRATE"
YEAR_MS = 365 * 86_400_000
SAMPLES = 5

CUSTOMER_COLUMNS = (
    "uid",
    "workspace_id",
    "customer_id",
    "attributes",
    "attribute_times",
    "created_at",
    "updated_at",
    "created_batch",
    "migrated",
    "migrated_batch",
)
IDENTIFIER_COLUMNS = ("workspace_id", "name", "value", "uid")


@dataclass(slots=True)
class MigrationData:
    """The three phases' bodies, what the store must hold afterwards, and the anchor's rows."""

    phases: list[tuple[str, list[bytes], list[int]]] = field(default_factory=list)
    customers: int = 0
    events: int = 0
    transactions: int = 0
    #: customer id -> (balance, lifetime spend, purchases), for a few sampled customers
    samples: dict[str, tuple[Decimal, Decimal, int]] = field(default_factory=dict)
    tables: list[anchors.Table] = field(default_factory=list)

    @property
    def elements(self) -> int:
        return self.customers + self.events + self.transactions

    @property
    def bodies(self) -> int:
        return sum(len(bodies) for _, bodies, _ in self.phases)

    def summary(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "events": self.events,
            "transactions": self.transactions,
            "bodies": self.bodies,
            "anchor_rows": sum(len(t.rows) for t in self.tables),
        }


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def build(profile: Profile, base_ms: int | None = None) -> MigrationData:
    """The data set of a profile: ``customer_pool`` customers, 10 events and 5 transactions
    each (seed 42)."""
    rng = random.Random(SEED)
    now = base_ms or int(time.time() * 1000)
    data = MigrationData()
    customers, events, transactions = [], [], []
    rows: dict[str, list[tuple[Any, ...]]] = {n: [] for n in ("c", "i", "w", "e", "t")}
    for n in range(profile.customer_pool):
        cid, uid = f"m{n:06d}", n + 1
        amounts = [_money(rng, 100, 1000) for _ in range(TRANSACTIONS_EACH - 1)]
        amounts.append(-(sum(amounts) * Decimal("0.25")).quantize(Decimal("0.01")))  # redeemed
        balance = sum(amounts)
        attributes = {"name": f"Customer {n}", "email": f"{cid}@example.com", "country": "MX"}
        extra = {"gender": "FEMALE", "registration_date": "2023-11-07T05:31:56Z"}
        opening = [{"reward_id": REWARD, "amount": float(balance)}]
        customers.append({"id": cid, **attributes, **extra, "balance": opening})
        times = json.dumps(dict.fromkeys(attributes, now))
        rows["c"].append(
            (uid, ANCHOR_WORKSPACE, cid, json.dumps(attributes), times, now, now, "b", True, "b")
        )
        rows["i"].append((ANCHOR_WORKSPACE, "email", attributes["email"], uid))
        text = str(balance)
        rows["w"].append((uid, REWARD, ANCHOR_WORKSPACE, text, text, "{}", "b", now, now))
        spend = Decimal(0)
        mine = []
        for k in range(EVENTS_EACH):
            value = _money(rng, 5, 300)
            spend += value
            at = now - rng.randrange(YEAR_MS)
            pid = f"{cid}-o{k}"
            order = {"purchase_id": pid, "value": float(value), "payment_method": "CREDIT"}
            event = {"type": "PURCHASE", "issued_at": _iso(at), "resolved_at": _iso(at)}
            event |= {"fulfilled": True, "order": order}
            mine.append(event)
            stored = (json.dumps(event), now, "b", False, True, pid, str(value))
            rows["e"].append((ANCHOR_WORKSPACE, uid, uid, "PURCHASE", at, *[None] * 5, *stored))
        events.append({"id": cid, "events": mine})
        history = []
        for k, amount in enumerate(amounts):
            kind = "REDEMPTION" if amount < 0 else "ACCUMULATION"
            issued = _iso(now - (k + 1) * 86_400_000)
            tx = {"type": kind, "amount": float(amount), "reward_id": REWARD}
            tx |= {"issued_at": issued, "details": f"history {k}"}
            history.append(tx)
            head = (ANCHOR_WORKSPACE, uid, REWARD, kind, str(amount), False, now, None)
            rows["t"].append((*head, json.dumps(tx), "b", now))
        transactions.append({"id": cid, "transactions": history})
        if n % max(1, profile.customer_pool // SAMPLES) == 0:
            data.samples[cid] = (balance, spend, EVENTS_EACH)
    data.customers, data.events = len(customers), len(customers) * EVENTS_EACH
    data.transactions = len(customers) * TRANSACTIONS_EACH
    data.phases = [
        ("", *_bodies(customers, PER_BODY, 1)),
        ("/events", *_bodies(events, PER_BODY // EVENTS_EACH, EVENTS_EACH)),
        ("/transactions", *_bodies(transactions, PER_BODY // TRANSACTIONS_EACH, TRANSACTIONS_EACH)),
    ]
    data.tables = [
        anchors.Table("customers", CUSTOMER_COLUMNS, rows["c"]),
        anchors.Table("customer_identifiers", IDENTIFIER_COLUMNS, rows["i"]),
        anchors.Table("wallets", WALLET_COLUMNS, rows["w"]),
        anchors.Table("events", EVENT_COLUMNS, rows["e"]),
        anchors.Table("wallet_transactions", TRANSACTION_COLUMNS, rows["t"]),
    ]
    return data


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _bodies(entries: list[Any], per_body: int, each: int) -> tuple[list[bytes], list[int]]:
    bodies, counts = [], []
    for start in range(0, len(entries), per_body):
        chunk = entries[start : start + per_body]
        bodies.append(json.dumps({"customers": chunk}).encode())
        counts.append(len(chunk) * each)
    return bodies, counts


# --- the end-to-end stage ------------------------------------------------------------------


def run_sqlite(
    data: MigrationData, profile: Profile, workdir: Path, settings: dict[str, str]
) -> dict[str, Any]:
    path = workdir / f"migration-{time.monotonic_ns()}.db"
    try:
        return _run(f"sqlite:///{path}", e2e.LAYOUTS["sqlite"], data, profile, workdir, settings)
    finally:
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()


def run_postgres(
    data: MigrationData, profile: Profile, workdir: Path, settings: dict[str, str], admin: str
) -> dict[str, Any]:
    with pg.fresh_database(admin) as url:
        return _run(url, e2e.LAYOUTS["postgres"], data, profile, workdir, settings)


def _run(
    url: str,
    layout: e2e.Layout,
    data: MigrationData,
    profile: Profile,
    workdir: Path,
    settings: dict[str, str],
) -> dict[str, Any]:
    env = server.environment(url, **settings)
    procs: list[server.Proc] = []
    try:
        base_url, tenant = e2e.start_all(layout, env, workdir, procs)
        probe = Probe(url, tenant.id)
        try:
            return _measure(procs, probe, base_url, tenant, data, profile)
        finally:
            probe.close()
    finally:
        for proc in reversed(procs):
            server.stop(proc)


def _measure(
    procs: list[server.Proc],
    probe: Probe,
    base_url: str,
    tenant: server.Tenant,
    data: MigrationData,
    profile: Profile,
) -> dict[str, Any]:
    bearer = {"Authorization": f"Bearer {tenant.key}"}
    results = [
        load.post_all(base_url, API + path, bearer, bodies, counts, profile.post_cap_s, ok=201)
        for path, bodies, counts in data.phases
    ]
    posted = load.combined(results)
    _, backlog = probe.progress()
    drained = probe.wait_drained(posted.ok, profile.drain_cap_s)
    live = [p for p in procs if p.popen.poll() is None]
    memory = {k: v for p in live for k, v in server.memory_of(p.role, p.pid).items()}
    problems = [] if drained else [f"queue not drained within {profile.drain_cap_s}s"]
    problems += _cross_check(probe, posted, data, base_url, tenant)
    problems += [f"{p.role} exited early" for p in procs if p.popen.poll() is not None]
    ledger = probe.ledger()
    done = ledger.get("done", {})
    applied_s = max(done.get("done_max", 0) / 1000 - posted.started_at, 1e-9)
    return {
        "ok": not problems,
        "problems": problems,
        "accepted_el_s": posted.summary()["accepted_el_s"],
        "applied_el_s": round(done.get("applied", 0) / applied_s, 1),
        "applied_seconds": round(applied_s, 3),
        "backlog_batches_at_last_accept": backlog,
        "peak_rss_mb": max((m.get("peak_rss_mb", 0.0) for m in memory.values()), default=0.0),
        "memory_mb": memory,
        "load": posted.summary(),
        "store": {"counts": probe.counts(), "ledger": ledger, "issues": probe.issues()},
        "worker_log": e2e.apply_log(procs),
    }


def _cross_check(
    probe: Probe,
    posted: load.LoadResult,
    data: MigrationData,
    base_url: str,
    tenant: server.Tenant,
) -> list[str]:
    """Every request 201, every batch done with every entry applied, the right row counts, and
    sampled wallets and metrics read back through the API."""
    problems = []
    want = {
        "requests accepted": (posted.ok, data.bodies),
        "request errors": (posted.errors[:3], []),
    }
    ledger = probe.ledger()
    done = ledger.get("done", {})
    want |= {
        "batch statuses": (sorted(ledger), ["done"]),
        "elements applied": (done.get("applied"), data.elements),
        "elements failed or skipped": (done.get("failed", 0) + done.get("skipped", 0), 0),
    }
    counts = probe.counts()
    want |= {
        "customers stored": (counts["customers"], data.customers),
        "wallets stored": (counts["wallets"], data.customers),
        "events stored": (counts["events"], data.events),
        "transactions stored": (counts["wallet_transactions"], data.transactions),
    }
    with httpx.Client(base_url=base_url, headers=tenant.auth, timeout=30.0) as client:
        for cid, (balance, spend, purchases) in data.samples.items():
            profile = client.get(f"/v1/customers/{cid}").json()
            wallet = profile.get("wallet") or [{}]
            lifetime = (profile.get("metrics") or {}).get("lifetime", {})
            got = (
                Decimal(str(wallet[0].get("balance"))),
                Decimal(str(lifetime.get("spend_total"))).quantize(Decimal("0.01")),
                lifetime.get("number_of_purchases"),
            )
            want[f"{cid} balance, spend, purchases"] = (got, (balance, spend, purchases))
    for what, (got, expected) in want.items():
        if got != expected:
            problems.append(f"{what}: got {got}, expected {expected}")
    return problems


# --- the anchor ----------------------------------------------------------------------------


def anchor_sqlite(data: MigrationData, workdir: Path) -> dict[str, Any]:
    return anchors.sqlite_insert_tables(data.tables, workdir)


def anchor_pg(data: MigrationData, admin: str) -> dict[str, Any]:
    workspace = (ANCHOR_WORKSPACE, "bench", "x" * 64, 0, 0, False, "[]", "{}", "[]")
    return anchors.pg_copy_tables(data.tables, admin, workspace=workspace)
