"""The loyalty migration stage (issue 3): customers with balances, then their purchases, then
their transactions, through Masivo's three endpoints, against the raw insert of the same rows.

``--full``: 20,000 customers (half with one reward, half with two), 200,000 ``PURCHASE`` events
(10 each, values with cents) and 100,000 transactions (5 each, summing exactly per reward to
the migrated balance, some with cents); ``--quick`` a tenth. Bodies hold 1,000 entries (the
vendor's cap). The three phases are posted one after the other (4 requests in flight each), so
every customer is accepted before its events and transactions (batches apply in accept order).

The anchor (``LM_SQLITE`` / ``LM_PG``) inserts the rows those requests store (customers, their
email index entries, wallets, events, wallet transactions) into Roster's own tables in a fresh
database, with ``executemany`` / ``COPY``, one commit per 1,000 rows (``bench.anchors``).
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench import anchors, e2e, load, server
from bench.config import SEED, Profile
from bench.probe import Probe
from bench.verify import check_ledger, check_load, expect
from roster.store.events import COLUMNS as EVENT_COLUMNS
from roster.store.profiles import NEW_COLUMNS as NEW_CUSTOMER_COLUMNS
from roster.store.wallets import TRANSACTION_COLUMNS, WALLET_COLUMNS

API = "/api/storefront/v1/customers/migrate"
PER_BODY = 1000
EVENTS_EACH = 10
TRANSACTIONS_EACH = 5
#: Every customer holds the first reward; every second customer holds the second one too.
REWARDS = ("3f0c8a52-9c1e-4a57-9d43-6f0e3d0b2a11", "8d2e6b14-5a7f-4c39-b0e1-2f4a9c7d1e63")
ANCHOR_WORKSPACE = "BENCHMIGRATE"
YEAR_MS = 365 * 86_400_000
DAY_MS = 86_400_000
#: Sampled customers read back after each rep: every fifth of the list, and the one after it
#: (so both one-reward and two-reward customers are read).
SAMPLES = 5
CENT = Decimal("0.01")

#: A migrated customer as stored once its events came.
CUSTOMER_COLUMNS = (*NEW_CUSTOMER_COLUMNS, "events_migrated")
IDENTIFIER_COLUMNS = ("workspace_id", "name", "value", "uid")
#: ``GET /v1/batches?limit=`` at most: the cross-check lists each kind's batches in one page.
LIST_LIMIT = 1000
KINDS = ("masivo.customers", "masivo.events", "masivo.transactions")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Sample:
    """What the profile of one customer must show once everything is applied."""

    balances: dict[str, Decimal]
    spend: Decimal
    purchases: int
    last_purchase: str


@dataclass(slots=True)
class MigrationData:
    """The three phases' bodies, what the store must hold afterwards, and the anchor's rows."""

    #: ``(path suffix, batch kind, bodies, entries per body)`` in posting order
    phases: list[tuple[str, str, list[bytes], list[int]]] = field(default_factory=list)
    customers: int = 0
    wallets: int = 0
    events: int = 0
    transactions: int = 0
    samples: dict[str, Sample] = field(default_factory=dict)
    tables: list[anchors.Table] = field(default_factory=list)

    @property
    def elements(self) -> int:
        return self.customers + self.events + self.transactions

    @property
    def bodies(self) -> int:
        return sum(len(bodies) for _, _, bodies, _ in self.phases)

    def summary(self) -> dict[str, Any]:
        return {
            "seed": SEED,
            "customers": self.customers,
            "wallets": self.wallets,
            "events": self.events,
            "transactions": self.transactions,
            "elements": self.elements,
            "bodies": {kind: len(bodies) for _, kind, bodies, _ in self.phases},
            "body_bytes_max": {kind: max(map(len, b)) for _, kind, b, _ in self.phases},
            "anchor_rows": {t.name: len(t.rows) for t in self.tables},
            "anchor_rows_total": sum(len(t.rows) for t in self.tables),
            "samples": sorted(self.samples),
        }


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """An amount with cents, from ``low`` to below ``high``."""
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


def _number(amount: Decimal) -> float:
    """An amount as the JSON number posted (two decimals at most, so exact in the text)."""
    return float(amount)


def _text(amount: Decimal) -> str:
    """How Roster stores a posted amount: the decimal text of the JSON number."""
    return str(Decimal(repr(_number(amount))))


def _history(rng: random.Random, rewards: tuple[str, ...]) -> list[tuple[str, str, Decimal]]:
    """Five ``(reward, type, signed amount)`` per customer; each reward's sum is its balance.

    One reward: four accruals and a redemption of a quarter of them (to the cent). Two: two
    accruals and a redemption of the first, a migrated amount and its expired tenth of the
    second."""
    if len(rewards) == 1:
        accrued = [_money(rng, 100, 1000) for _ in range(TRANSACTIONS_EACH - 1)]
        spent = -(sum(accrued) * Decimal("0.25")).quantize(CENT)
        return [(rewards[0], "ACCUMULATION", a) for a in accrued] + [
            (rewards[0], "REDEMPTION", spent)
        ]
    first, second = rewards
    accrued = [_money(rng, 100, 1000) for _ in range(2)]
    spent = -(sum(accrued) * Decimal("0.25")).quantize(CENT)
    moved = _money(rng, 50, 500)
    expired = -(moved * Decimal("0.1")).quantize(CENT)
    return [
        *((first, "ACCUMULATION", a) for a in accrued),
        (first, "REDEMPTION", spent),
        (second, "MIGRATION", moved),
        (second, "EXPIRATION", expired),
    ]


def _batch_id(phase: int, body: int) -> str:
    """A stand-in for the batch id an anchor row carries (as long as Roster's)."""
    return str(uuid.UUID(int=phase << 64 | body))


def build(profile: Profile, base_ms: int | None = None) -> MigrationData:
    """The data set of a profile: ``customer_pool`` customers (half with two rewards), 10
    purchases and 5 transactions each (seed 42); event times in the year before ``base_ms``."""
    rng = random.Random(SEED)
    now = base_ms or int(time.time() * 1000)
    data = MigrationData()
    customers, events, transactions = [], [], []
    rows: dict[str, list[tuple[Any, ...]]] = {n: [] for n in ("c", "i", "w", "e", "t")}
    per_events, per_transactions = PER_BODY // EVENTS_EACH, PER_BODY // TRANSACTIONS_EACH
    step = max(1, profile.customer_pool // SAMPLES)
    for n in range(profile.customer_pool):
        cid, uid = f"m{n:06d}", n + 1
        rewards = REWARDS[: 1 + n % 2]
        history = _history(rng, rewards)
        balances = {r: sum((a for rr, _, a in history if rr == r), Decimal(0)) for r in rewards}
        attributes = {
            "name": f"Customer {n}",
            "email": f"{cid}@example.com",
            "gender": ("FEMALE", "MALE")[n % 2],
            "dob": f"19{60 + n % 40}-0{1 + n % 9}-1{n % 10}",
            "registration_date": _iso(now - rng.randrange(3 * YEAR_MS)),
            "document_type": "INE",
            "document_number": f"D{rng.getrandbits(40):010x}",
            "country": "MX",
        }
        opening = [{"reward_id": r, "amount": _number(b)} for r, b in balances.items()]
        if len(rewards) > 1:
            opening[1]["expiration_date"] = _iso(now + YEAR_MS)
        customers.append({"id": cid, **attributes, "balance": opening})
        batch = _batch_id(1, n // PER_BODY)
        times = _compact(dict.fromkeys(attributes, now))
        sources = _compact(dict.fromkeys(attributes, batch))
        profile_row = (uid, ANCHOR_WORKSPACE, cid, _compact(attributes), times, sources, now, now)
        rows["c"].append((*profile_row, batch, True, batch, None, True))  # no metrics sent
        rows["i"].append((ANCHOR_WORKSPACE, "email", attributes["email"], uid))
        for entry in opening:
            text = _text(balances[entry["reward_id"]])
            wallet = (uid, entry["reward_id"], ANCHOR_WORKSPACE, text, text, _compact(entry))
            rows["w"].append((*wallet, batch, now, now))
        spend, mine, last = Decimal(0), [], 0
        batch = _batch_id(2, n // per_events)
        for k in range(EVENTS_EACH):
            value = _money(rng, 5, 300)
            spend += value
            at = now - rng.randrange(YEAR_MS)
            last = max(last, at)
            pid = f"{cid}-o{k}"
            order = {"purchase_id": pid, "value": _number(value), "payment_method": "CREDIT"}
            event = {"type": "PURCHASE", "issued_at": _iso(at), "resolved_at": _iso(at)}
            event |= {"fulfilled": True, "order": order}
            mine.append(event)
            stored = (_compact(event), now, batch, False, True, pid, _text(value))
            rows["e"].append((ANCHOR_WORKSPACE, uid, uid, "PURCHASE", at, *[None] * 5, *stored))
        events.append({"id": cid, "events": mine})
        posted = []
        batch = _batch_id(3, n // per_transactions)
        for k, (reward, kind, amount) in enumerate(history):
            issued = now - (TRANSACTIONS_EACH - k) * DAY_MS
            tx = {"type": kind, "amount": _number(amount), "reward_id": reward}
            tx |= {"issued_at": _iso(issued), "resolved_at": _iso(issued), "details": f"h{k}"}
            posted.append(tx)
            head = (ANCHOR_WORKSPACE, uid, reward, kind, _text(amount), False, issued, issued)
            rows["t"].append((*head, _compact(tx), batch, now))
        transactions.append({"id": cid, "transactions": posted})
        if n % step in (0, 1):
            data.samples[cid] = Sample(balances, spend, EVENTS_EACH, _iso(last))
    data.customers, data.wallets = len(customers), len(rows["w"])
    data.events, data.transactions = len(rows["e"]), len(rows["t"])
    data.phases = [
        ("", KINDS[0], *_bodies(customers, PER_BODY, 1)),
        ("/events", KINDS[1], *_bodies(events, per_events, EVENTS_EACH)),
        ("/transactions", KINDS[2], *_bodies(transactions, per_transactions, TRANSACTIONS_EACH)),
    ]
    assert all(len(bodies) <= LIST_LIMIT for _, _, bodies, _ in data.phases)
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
        bodies.append(json.dumps({"customers": chunk}, separators=(",", ":")).encode())
        counts.append(len(chunk) * each)
    return bodies, counts


# --- the end-to-end stage ------------------------------------------------------------------


def run_sqlite(
    data: MigrationData, profile: Profile, workdir: Path, settings: dict[str, str]
) -> dict[str, Any]:
    return e2e.on_sqlite(workdir, settings, _measuring(data, profile))


def run_postgres(
    data: MigrationData, profile: Profile, workdir: Path, settings: dict[str, str], admin: str
) -> dict[str, Any]:
    return e2e.on_postgres(workdir, settings, admin, _measuring(data, profile))


def _measuring(data: MigrationData, profile: Profile) -> e2e.Measure:
    return lambda procs, probe, base_url, tenant: _measure(
        procs, probe, base_url, tenant, data, profile
    )


def _measure(
    procs: list[server.Proc],
    probe: Probe,
    base_url: str,
    tenant: server.Tenant,
    data: MigrationData,
    profile: Profile,
) -> dict[str, Any]:
    """Post the three phases one after the other, wait for the drain, read memory, then
    cross-check the store."""
    bearer = {"Authorization": f"Bearer {tenant.key}"}
    phases: dict[str, load.LoadResult] = {}
    cpu_before = time.process_time()
    for path, kind, bodies, counts in data.phases:
        phases[kind] = load.post_all(
            base_url, API + path, bearer, bodies, counts, profile.post_cap_s, ok=201
        )
    posted = load.combined(list(phases.values()))
    loadgen_cpu_s = round(time.process_time() - cpu_before, 1)
    _, backlog = probe.progress()
    drained = probe.wait_drained(posted.ok, profile.drain_cap_s)
    live = [p for p in procs if p.popen.poll() is None]
    memory = {k: v for p in live for k, v in server.memory_of(p.role, p.pid).items()}
    problems = [] if drained else [f"queue not drained within {profile.drain_cap_s}s"]
    problems += _cross_check(probe, posted, data, base_url, tenant.auth)
    problems += [f"{p.role} exited early" for p in procs if p.popen.poll() is not None]
    ledger = probe.ledger()
    return {
        "ok": not problems,
        "problems": problems,
        **e2e.rates(posted, ledger.get("done", {})),
        "backlog_batches_at_last_accept": backlog,
        "peak_rss_mb": max((m.get("peak_rss_mb", 0.0) for m in memory.values()), default=0.0),
        "memory_mb": memory,
        "loadgen_cpu_s": loadgen_cpu_s,
        "load": posted.summary(),
        "phases": {kind: result.summary() for kind, result in phases.items()},
        "store": {"counts": probe.counts(), "ledger": ledger, "issues": probe.issues()},
        "worker_log": e2e.apply_log(procs),
        "apply_by_kind": apply_by_kind(procs),
    }


def apply_by_kind(procs: list[server.Proc]) -> dict[str, dict[str, Any]]:
    """Per batch kind, the groups the workers applied and the time they logged for them (in
    all, and deciding: reading the store and the rules, before the write transaction).

    A worker logs ``batch.applied`` once per batch of a group, each line with the group's size
    and the whole group's ``ms``; the lines of one group follow each other in its log."""
    groups: list[tuple[str, int, int, float, float]] = []  # kind, batches, applied, ms, decide
    for proc in procs:
        lines = e2e.applied_lines(proc)
        at = 0
        while at < len(lines):
            chunk = lines[at : at + max(1, int(lines[at].get("group", 1)))]
            applied = sum(int(line.get("applied", 0)) for line in chunk)
            head = chunk[0]
            decide = float(head.get("decide_ms", 0.0))
            groups.append((str(head.get("kind")), len(chunk), applied, float(head["ms"]), decide))
            at += len(chunk)
    found: dict[str, dict[str, Any]] = {}
    for kind in sorted({g[0] for g in groups}):
        mine = [g for g in groups if g[0] == kind]
        ms = sorted(g[3] for g in mine)
        applied = sum(g[2] for g in mine)
        found[kind] = {
            "batches": sum(g[1] for g in mine),
            "groups": len(mine),
            "applied": applied,
            "apply_ms_sum": round(sum(ms), 1),
            "decide_ms_sum": round(sum(g[4] for g in mine), 1),
            "group_ms_p50": round(statistics.median(ms), 1),
            "group_ms_max": round(ms[-1], 1),
            "applied_per_s": round(applied / max(sum(ms) / 1000, 1e-9), 1),
        }
    return found


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _cross_check(
    probe: Probe,
    posted: load.LoadResult,
    data: MigrationData,
    base_url: str,
    auth: dict[str, str],
) -> list[str]:
    """Every request 201, every batch done with every entry applied, the right row counts, and
    sampled wallets and metrics read back through the API."""
    problems = check_load(posted, data.bodies, "requests accepted (201)")
    problems += check_ledger(probe.ledger(), data.bodies, data.elements)
    counts = probe.counts()
    expect(problems, "customers stored", counts["customers"], data.customers)
    expect(problems, "wallets stored", counts["wallets"], data.wallets)
    expect(problems, "events stored", counts["events"], data.events)
    expect(problems, "wallet transactions stored", counts["wallet_transactions"], data.transactions)
    with httpx.Client(base_url=base_url, headers=auth, timeout=30.0) as client:
        problems += _check_batches(client, data)
        for cid, sample in data.samples.items():
            problems += _check_profile(client, cid, sample)
    return problems


def _check_batches(client: httpx.Client, data: MigrationData) -> list[str]:
    """Through ``GET /v1/batches?kind=``: each kind has one batch per body, each ``done`` with
    ``applied == total``; the errors of a few that are not, from ``GET /v1/batches/{id}``."""
    problems: list[str] = []
    for _, kind, _, counts in data.phases:
        problems += check_kind(client, kind, counts)
    return problems


def check_kind(client: httpx.Client, kind: str, counts: list[int]) -> list[str]:
    """The batches of one kind, listed with ``GET /v1/batches?kind=`` (at most ``LIST_LIMIT``):
    one per body of ``counts`` (its entries), all ``done``, each with every entry applied; for
    up to three that are not, what ``GET /v1/batches/{id}`` says of them."""
    problems: list[str] = []
    listed = client.get("/v1/batches", params={"kind": kind, "limit": LIST_LIMIT})
    if listed.status_code != 200:
        return [f"GET /v1/batches?kind={kind}: HTTP {listed.status_code}"]
    rows = listed.json()["batches"]
    expect(problems, f"{kind} batches", len(rows), len(counts))
    expect(problems, f"{kind} entries", sum(r["counts"]["total"] for r in rows), sum(counts))
    bad = [
        r
        for r in rows
        if r["status"] != "done"
        or r["counts"]["applied"] != r["counts"]["total"]
        or r["counts"]["failed"]
        or r["counts"]["skipped"]
    ]
    if bad:
        problems.append(f"{kind}: {len(bad)} of {len(rows)} batches not wholly applied")
    for row in bad[:3]:
        view = client.get(f"/v1/batches/{row['batch_id']}").json()
        problems.append(
            f"{kind} batch {row['batch_id']}: status {view.get('status')}, counts "
            f"{view.get('counts')}, last_error {view.get('last_error')!r}, errors "
            f"{(view.get('errors') or [])[:3]}, warnings {(view.get('warnings') or [])[:3]}"
        )
    return problems


def _check_profile(client: httpx.Client, cid: str, sample: Sample) -> list[str]:
    """The profile's wallet (balance and opening balance per reward) and lifetime metrics."""
    problems: list[str] = []
    response = client.get(f"/v1/customers/{cid}")
    if response.status_code != 200:
        return [f"GET /v1/customers/{cid}: HTTP {response.status_code} {response.text[:200]}"]
    profile = response.json()
    wallet = {w.get("reward_id"): w for w in profile.get("wallet") or []}
    balances = {r: _decimal(w.get("balance")) for r, w in wallet.items()}
    openings = {r: _decimal(w.get("opening_balance")) for r, w in wallet.items()}
    lifetime = (profile.get("metrics") or {}).get("lifetime") or {}
    expect(problems, f"{cid} wallet balances", balances, sample.balances)
    expect(problems, f"{cid} opening balances", openings, sample.balances)
    expect(
        problems, f"{cid} lifetime spend_total", _decimal(lifetime.get("spend_total")), sample.spend
    )
    expect(
        problems,
        f"{cid} number_of_purchases",
        lifetime.get("number_of_purchases"),
        sample.purchases,
    )
    expect(
        problems, f"{cid} last_purchase_at", lifetime.get("last_purchase_at"), sample.last_purchase
    )
    return problems


# --- the anchor ----------------------------------------------------------------------------


def anchor_sqlite(data: MigrationData, workdir: Path) -> dict[str, Any]:
    return anchors.sqlite_insert_tables(data.tables, workdir)


def anchor_pg(data: MigrationData, admin: str) -> dict[str, Any]:
    return anchors.pg_copy_tables(
        data.tables, admin, workspace=anchors.workspace_row(ANCHOR_WORKSPACE)
    )
