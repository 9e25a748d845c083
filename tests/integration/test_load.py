"""``roster load``: each kind's file goes in as a run, and the report names exactly the bad
records by file and line. The loader talks to the API in-process; a worker thread applies."""

from __future__ import annotations

import asyncio
import csv
import gzip
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from test_masivo_migration import REWARD, customer, purchase, transaction, transactions

from roster.loader.run import LoadRequest, Outcome, load
from roster.loader.sender import LoadStopped
from roster.loader.state import StateError
from roster.services.worker.loop import Worker
from roster.store.schema import batches as batch_table
from roster_testkit import Harness, Tenant


class InProcess(httpx.BaseTransport):
    """The API in this process, for the loader's synchronous client; counts the writes, and
    can break the connection after a number of them (an interrupted load)."""

    def __init__(self, harness: Harness, break_after: int | None = None) -> None:
        self.inner = httpx.ASGITransport(app=harness.app)
        self.writes: list[str] = []
        #: Every write's Idempotency-Key and answer status, in order.
        self.answers: list[tuple[str, int]] = []
        self.break_after = break_after
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            with self.lock:
                if self.break_after is not None and len(self.writes) >= self.break_after:
                    raise httpx.ConnectError("the test broke the connection")
                self.writes.append(request.headers.get("idempotency-key", ""))
        body = request.read()
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=body)

        async def send() -> httpx.Response:
            response = await self.inner.handle_async_request(copy)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        response = asyncio.run(send())
        if request.method != "GET":
            with self.lock:
                self.answers.append(
                    (request.headers.get("idempotency-key", ""), response.status_code)
                )
        return response


@pytest.fixture
def applying(roster: Harness) -> Iterator[Harness]:
    """The harness with a worker applying batches in a thread, as a server would."""
    stop = threading.Event()
    worker = Worker(roster.db, roster.container.settings, name="load-test-worker")
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield roster
    stop.set()
    thread.join(timeout=30)


def run_load(
    roster: Harness,
    tenant: Tenant,
    kind: str,
    files: list[Path],
    tmp_path: Path,
    transport: InProcess | None = None,
    **options: Any,
) -> Outcome:
    request = LoadRequest(
        kind,
        [str(f) for f in files],
        "http://roster",
        tenant.id,
        tenant.key,
        report=tmp_path / "report.csv",
        state_dir=tmp_path / "state",
        transport=transport or InProcess(roster),
        **options,
    )
    return load(request)


def report_rows(tmp_path: Path) -> list[dict[str, str]]:
    with open(tmp_path / "report.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _customer(i: int) -> dict[str, Any]:
    return {"type": "customer", "customer_id": f"c{i}", "attributes": {"n": i}}


BLANK = {"type": "customer", "customer_id": "  ", "attributes": {}}


def test_a_transition_file_is_loaded_and_its_bad_lines_reported(
    applying: Harness, tmp_path: Path
) -> None:
    """Every good element is applied once, over several requests; the report holds exactly the
    bad ones, each with its line."""
    tenant = applying.tenant()
    records = [BLANK if i % 97 == 5 else _customer(i) for i in range(2500)]
    path = jsonl(tmp_path / "customers.jsonl", records)
    outcome = run_load(applying, tenant, "transition", [path], tmp_path, run="first")
    bad_lines = [i + 1 for i, r in enumerate(records) if r is BLANK]
    rows = report_rows(tmp_path)
    assert [int(r["line"]) for r in rows] == bad_lines
    assert {(r["file"], r["code"], r["outcome"]) for r in rows} == {
        (str(path), "invalid_customer_id", "failed")
    }
    assert outcome.counts["applied"] == 2500 - len(bad_lines)
    assert outcome.counts["failed"] == len(bad_lines)
    view = applying.get("/v1/runs/first", tenant).json()
    assert view["batches"]["total"] > 1  # 2,500 elements of about 60 bytes are over 100 KB
    assert applying.customer(tenant, "c2499") is not None


def test_a_json_array_and_a_gzip_file_read_like_json_lines(
    applying: Harness, tmp_path: Path
) -> None:
    """A JSON array (elements over several lines) and a gzipped JSON lines file give the same
    lines in the report as the files hold."""
    tenant = applying.tenant()
    array = tmp_path / "a.json"
    array.write_text(
        '[\n  {"type": "customer", "customer_id": "a1", "attributes": {"x": "],}"}},\n'
        '  {"type": "customer",\n   "customer_id": "  ", "attributes": {}}\n]\n',
        encoding="utf-8",
    )
    packed = tmp_path / "b.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as f:
        f.write(json.dumps(_customer(1)) + "\n\n" + json.dumps(BLANK) + "\n")
    run_load(applying, tenant, "transition", [array, packed], tmp_path)
    rows = report_rows(tmp_path)
    assert [(r["file"], int(r["line"])) for r in rows] == [(str(array), 3), (str(packed), 3)]
    assert applying.customer(tenant, "a1")["attributes"]["x"] == "],}"  # type: ignore[index]


def test_customerio_calls_are_loaded_as_batch_requests(applying: Harness, tmp_path: Path) -> None:
    """Data Pipelines calls go in /v1/batch requests; a call without a userId is reported."""
    tenant = applying.tenant()
    calls = [
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
        {"type": "track", "event": "opened"},
        {"type": "track", "userId": "u1", "event": "opened", "messageId": "m1"},
    ]
    run_load(applying, tenant, "customerio", [jsonl(tmp_path / "c.jsonl", calls)], tmp_path)
    rows = report_rows(tmp_path)
    assert [(int(r["line"]), r["outcome"]) for r in rows] == [(2, rows[0]["outcome"])]
    assert rows[0]["code"] in ("missing_field", "unknown_customer")
    assert [e["name"] for e in applying.events(tenant, "u1")] == ["opened"]


def test_a_people_csv_with_quoted_line_breaks_reports_the_line_a_record_starts_on(
    applying: Harness, tmp_path: Path
) -> None:
    """CSV records may span lines; the report gives the line each bad record starts on, and
    options reach the import."""
    tenant = applying.tenant()
    path = tmp_path / "people.csv"
    path.write_text(
        'id,email,note\np1,a@example.com,"two\nlines"\n,b@example.com,missing id\n'
        'p3,c@example.com,"x"\n,"d@example.com","also\nmissing"\n',
        encoding="utf-8",
    )
    outcome = run_load(applying, tenant, "people", [path], tmp_path, options={"create": "true"})
    rows = report_rows(tmp_path)
    assert [int(r["line"]) for r in rows] == [4, 6]
    assert outcome.counts["applied"] == 2
    assert applying.customer(tenant, "p1")["attributes"]["note"] == "two\nlines"  # type: ignore[index]


def test_a_loyalty_migration_from_three_files(applying: Harness, tmp_path: Path) -> None:
    """Customers, then events, then transactions, each its own load: an event entry or a
    transaction entry that fails is reported on the line of its customer's record."""
    tenant = applying.tenant()
    people = [customer("c1", 300), customer("c2", 0)]
    events = [
        {"id": "c1", "events": [purchase("p1", 100), purchase("p1", 100)]},
        {"id": "ghost", "events": [purchase("p2", 5)]},
    ]
    txs = [{"id": "c1", "transactions": [transaction(300)]}]
    run_load(applying, tenant, "masivo-customers", [jsonl(tmp_path / "c.jsonl", people)], tmp_path)
    assert report_rows(tmp_path) == []
    run_load(applying, tenant, "masivo-events", [jsonl(tmp_path / "e.jsonl", events)], tmp_path)
    rows = report_rows(tmp_path)
    assert [(int(r["line"]), r["code"], r["outcome"]) for r in rows] == [
        (1, "duplicate_ignored", "skipped"),
        (2, "unknown_customer", "failed"),
    ]
    run_load(applying, tenant, "masivo-transactions", [jsonl(tmp_path / "t.jsonl", txs)], tmp_path)
    assert report_rows(tmp_path) == []
    assert REWARD


def test_merges_from_csv_follow_their_pairs(applying: Harness, tmp_path: Path) -> None:
    """A merges CSV (merged_user, retained_user) becomes Merge Users requests; an unknown
    customer's pair is reported with its line."""
    tenant = applying.tenant()
    applying.transition(tenant, [_customer(1), _customer(2)])
    applying.drain()
    path = tmp_path / "m.csv"
    path.write_text("merged_user,retained_user\nc1,c2\nnobody,c2\n", encoding="utf-8")
    run_load(applying, tenant, "merges", [path], tmp_path)
    rows = report_rows(tmp_path)
    assert [(int(r["line"]), r["code"]) for r in rows] == [(3, "unknown_customer")]
    assert applying.customer(tenant, "c1") is None


def test_a_batch_the_server_gave_up_on_is_reported_record_by_record(
    roster: Harness, tmp_path: Path
) -> None:
    """A batch of the run that the server ends ``failed`` (here: one no worker can apply, as
    an upgrade gone wrong) puts every record it held in the report as ``batch_failed``, on its
    own line, and the rest of the run applies."""
    tenant = roster.tenant()
    path = jsonl(tmp_path / "x.jsonl", [_customer(i) for i in range(3000)])
    sent = run_load(roster, tenant, "transition", [path], tmp_path, wait=False, concurrency=1)
    run = roster.get("/v1/batches", tenant, params={"run": sent.run}).json()["batches"]
    assert len(run) >= 2
    doomed = min(run, key=lambda b: b["accepted_at"])
    with roster.db.write() as conn:
        conn.execute(
            sa.update(batch_table).where(batch_table.c.id == doomed["batch_id"]).values(kind="gone")
        )
    roster.drain()
    outcome = run_load(roster, tenant, "transition", [path], tmp_path)  # resumed: nothing sent
    rows = report_rows(tmp_path)
    held = doomed["counts"]["total"]
    assert [int(r["line"]) for r in rows] == list(range(1, held + 1))
    assert {(r["code"], r["outcome"]) for r in rows} == {("batch_failed", "failed")}
    assert "gone" in rows[0]["message"]
    assert outcome.counts["applied"] == 3000 - held
    assert outcome.summary.codes == {("failed", "batch_failed"): held}


def test_an_interrupted_load_resumes_and_applies_every_record_once(
    applying: Harness, tmp_path: Path
) -> None:
    """A load whose connection breaks after a few requests stops; the same command again
    sends only what was not acknowledged, and every record is applied exactly once."""
    tenant = applying.tenant()
    records = [_customer(i) for i in range(10_000)]
    path = jsonl(tmp_path / "big.jsonl", records)
    broken = InProcess(applying, break_after=3)
    with pytest.raises(LoadStopped, match="run the command again"):
        run_load(applying, tenant, "transition", [path], tmp_path, broken, retries=0)
    first = list(broken.writes)
    again = InProcess(applying)
    outcome = run_load(applying, tenant, "transition", [path], tmp_path, again, concurrency=2)
    assert outcome.counts == {"total": 10_000, "applied": 10_000, "skipped": 0, "failed": 0}
    assert len(first) == 3
    assert again.writes
    assert not set(first) & set(again.writes)  # acknowledged chunks were not sent again
    assert len(set(first) | set(again.writes)) == len(first) + len(again.writes)
    batches = applying.get("/v1/batches", tenant, params={"limit": 1000}).json()["batches"]
    assert sum(b["counts"]["total"] for b in batches) == 10_000


def test_bad_credentials_and_an_unreachable_target_stop_before_anything_is_sent(
    applying: Harness, tmp_path: Path
) -> None:
    """Wrong credentials, or no server at all, stop the load with what to do; no state."""
    tenant = applying.tenant()
    path = jsonl(tmp_path / "x.jsonl", [_customer(1)])
    wrong = Tenant(tenant.id, tenant.key + "x")
    with pytest.raises(LoadStopped, match="refused the credentials"):
        run_load(applying, wrong, "transition", [path], tmp_path)
    request = LoadRequest(
        "transition",
        [str(path)],
        "http://127.0.0.1:9",
        tenant.id,
        tenant.key,
        state_dir=tmp_path / "state",
    )
    with pytest.raises(LoadStopped, match="cannot reach"):
        load(request)
    assert not (tmp_path / "state").exists()


def test_a_load_over_the_per_minute_limit_paces_itself_to_the_end(
    applying: Harness, tmp_path: Path
) -> None:
    """With 100 users a minute, 150 customers go in requests of at most 100 elements; the
    loader waits for the next window instead of being refused again and again, and no request
    is answered 429 twice in a row. (Up to a minute: the budget is per minute.)"""
    tenant = applying.tenant(users_per_minute=100)
    path = jsonl(tmp_path / "p.jsonl", [_customer(i) for i in range(150)])
    transport = InProcess(applying)
    outcome = run_load(applying, tenant, "transition", [path], tmp_path, transport, concurrency=2)
    assert outcome.counts["applied"] == 150
    statuses: dict[str, list[int]] = {}
    for key, status in transport.answers:
        statuses.setdefault(key, []).append(status)
    assert all(s[-1] == 200 for s in statuses.values())
    assert all(s.count(429) <= 1 for s in statuses.values()), statuses
    batches = applying.get("/v1/batches", tenant).json()["batches"]
    assert max(b["counts"]["total"] for b in batches) <= 100


def _state(roster: Harness, tenant: Tenant, ids: list[str]) -> dict[str, Any]:
    """What reads show of these customers: profiles and events."""
    found = {}
    for cid in ids:
        profile = roster.customer(tenant, cid)
        events = roster.events(tenant, cid) if profile is not None else []
        found[cid] = (profile and profile["attributes"], [e["name"] for e in events])
    return found


def _random_records(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Customers, devices and events over a small pool of ids, some of them bad, some to be
    skipped."""
    records: list[dict[str, Any]] = []
    for _ in range(n):
        cid = f"c{rng.randrange(12)}"
        roll = rng.random()
        if roll < 0.4:
            attributes = {"plan": rng.choice(["free", "pro"]), "n": rng.randrange(100)}
            if rng.random() < 0.2:
                attributes["uid"] = 1  # a system attribute: refused with a warning
            records.append({"type": "customer", "customer_id": cid, "attributes": attributes})
        elif roll < 0.55:
            records.append(
                {
                    "type": "device",
                    "customer_id": cid,
                    "device_id": f"d{rng.randrange(6)}",
                    "attributes": {"platform": "ANDROID", "push_id": "t"},
                }
            )
        elif roll < 0.9:
            records.append({"type": "event", "customer_id": cid, "actions": [{"action": "e"}]})
        elif roll < 0.95:  # skipped: no such customer, and it may only update
            records.append(
                {"type": "customer", "customer_id": "nobody", "update_existing_only": True}
            )
        else:
            records.append(BLANK)
    return records


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_dry_run_reports_what_the_real_run_then_does_and_changes_nothing(
    applying: Harness, tmp_path: Path, seed: int
) -> None:
    """On a random starting state, a dry run of a random file reports per record exactly what
    the real run of the same file then does, and before the real run nothing a read shows has
    changed."""
    rng = random.Random(seed)
    tenant = applying.tenant()
    applying.transition(tenant, [r for r in _random_records(rng, 40) if r is not BLANK])
    applying.drain()
    ids = [f"c{i}" for i in range(12)]
    before = _state(applying, tenant, ids)
    path = jsonl(tmp_path / "f.jsonl", _random_records(rng, 3000))
    dry = run_load(applying, tenant, "transition", [path], tmp_path, dry_run=True)
    dry_rows = report_rows(tmp_path)
    assert _state(applying, tenant, ids) == before
    view = applying.get(f"/v1/runs/{dry.run}", tenant).json()
    assert (view["dry_run"], view["status"], view["batches"]["held"]) == (True, "finished", 0)
    # In file order (one request at a time, as the dry run sends), reporting every record.
    real = run_load(
        applying, tenant, "transition", [path], tmp_path, concurrency=1, every_record=True
    )
    assert real.run != dry.run
    assert report_rows(tmp_path) == dry_rows
    assert (real.counts, real.effects) == (dry.counts, dry.effects)
    assert dry.counts["failed"] > 0
    outcomes = Counter(r["outcome"] for r in dry_rows)
    assert set(outcomes) == {"created", "updated", "unchanged", "skipped", "failed"}, outcomes
    assert sum(outcomes.values()) == 3000  # every record, each once


def test_a_dry_run_is_held_out_of_the_queue_until_decided(applying: Harness) -> None:
    """A dry run's batches wait, held, while real batches behind them apply; a real request may
    not join a dry run; a dry run holds at most 50,000 elements."""
    tenant = applying.tenant()
    dry = {"X-Roster-Run": "rehearsal", "X-Roster-Dry-Run": "true"}
    held = applying.transition(tenant, [_customer(1)], **dry).json()["batch_id"]
    real = applying.transition(tenant, [_customer(2)]).json()["batch_id"]
    applying.drain()
    assert applying.batch(tenant, held)["status"] == "held"
    assert applying.batch(tenant, real)["status"] == "done"
    assert applying.customer(tenant, "c1") is None
    mixed = applying.transition(tenant, [_customer(3)], **{"X-Roster-Run": "rehearsal"})
    assert (mixed.status_code, mixed.json()["error"]["code"]) == (409, "conflict")
    unnamed = applying.transition(tenant, [_customer(3)], **{"X-Roster-Dry-Run": "true"})
    assert unnamed.json()["error"]["field"] == "X-Roster-Run"
    decided = applying.request("POST", "/v1/runs/rehearsal/dry-run", headers=tenant.auth)
    assert decided.status_code == 202, decided.text
    applying.drain()
    assert applying.batch(tenant, held)["status"] == "done"
    assert applying.batch(tenant, held)["counts"]["applied"] == 1
    assert applying.customer(tenant, "c1") is None
    again = applying.request("POST", "/v1/runs/rehearsal/dry-run", headers=tenant.auth)
    assert again.status_code == 409
    small = [{"type": "event", "customer_id": "c", "actions": [{"action": "e"}]}] * 1400
    answers = [
        applying.transition(tenant, small, **{**dry, "X-Roster-Run": "big"}).status_code
        for _ in range(36)
    ]
    assert answers == [200] * 35 + [422]  # 35 x 1,400 = 49,000; one more is over 50,000


def test_a_whole_loyalty_migration_is_rehearsed_in_one_dry_run_then_run(
    applying: Harness, tmp_path: Path
) -> None:
    """Customers, events and transactions, three commands under one run name: as a dry run,
    each part is decided after the ones before it (events see the customers the rehearsal
    made), nothing changes, and the last part's report, covering all three files, says record
    by record what the real run of the same three commands then does."""
    tenant = applying.tenant()
    applying.transition(tenant, [_customer(7)])  # a live customer: the migration skips it
    applying.drain()
    people = [customer("c1", 300), customer("c2", 0), customer("c7", 0), customer("c1", 300)]
    events = [
        {"id": "c1", "events": [purchase("p1", 100), purchase("p1", 100), purchase("p2", 7)]},
        {"id": "ghost", "events": [purchase("p3", 5)]},
        {"id": "c2", "events": [purchase("p4", 1)]},
    ]
    txs = [
        {"id": "c1", "transactions": [transaction(300)]},
        {"id": "c2", "transactions": [transaction(5)]},
    ]
    files = {
        "masivo-customers": jsonl(tmp_path / "c.jsonl", people),
        "masivo-events": jsonl(tmp_path / "e.jsonl", events),
        "masivo-transactions": jsonl(tmp_path / "t.jsonl", txs),
    }
    ids = ["c1", "c2", "c7"]
    before = _state(applying, tenant, ids)
    for kind, path in files.items():
        dry = run_load(applying, tenant, kind, [path], tmp_path, run="rehearsal", dry_run=True)
        assert _state(applying, tenant, ids) == before, kind
    rehearsed = report_rows(tmp_path)
    assert {r["file"] for r in rehearsed} == {str(p) for p in files.values()}
    by_line = {(Path(r["file"]).name, int(r["line"])): (r["outcome"], r["code"]) for r in rehearsed}
    assert by_line[("c.jsonl", 1)] == ("created", "")
    assert by_line[("c.jsonl", 3)] == ("skipped", "not_migrated_only")
    assert by_line[("c.jsonl", 4)] == ("unchanged", "")  # the same entry again
    assert by_line[("e.jsonl", 1)][0] == "skipped"  # p1 twice: the events saw c1 migrated
    assert by_line[("e.jsonl", 2)] == ("failed", "unknown_customer")
    assert by_line[("e.jsonl", 3)] == ("created", "")
    assert by_line[("t.jsonl", 1)] == ("created", "")
    assert by_line[("t.jsonl", 2)] == ("failed", "balance_mismatch")
    for kind, path in files.items():
        real = run_load(
            applying, tenant, kind, [path], tmp_path, run="migration", every_record=True
        )
    assert report_rows(tmp_path) == rehearsed
    assert (real.counts, real.effects) == (dry.counts, dry.effects)
    assert [t["amount"] for t in transactions(applying, tenant, "c1")] == [300]


def test_a_line_that_is_not_json_is_reported_and_the_rest_applied(
    applying: Harness, tmp_path: Path
) -> None:
    """A broken line is reported on its own line and never sent; its neighbours apply."""
    tenant = applying.tenant()
    path = tmp_path / "x.jsonl"
    lines = [json.dumps(_customer(i)) for i in range(5)]
    lines[2] = '{"type": "customer", "customer_id": "c2"'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = run_load(applying, tenant, "transition", [path], tmp_path)
    rows = report_rows(tmp_path)
    assert [(int(r["line"]), r["code"], r["outcome"]) for r in rows] == [
        (3, "unreadable_record", "failed")
    ]
    assert outcome.counts["applied"] == 4


def test_masivo_entries_are_packed_a_thousand_at_most_and_refusals_name_their_line(
    applying: Harness, tmp_path: Path
) -> None:
    """Masivo takes 1,000 events a request however few customers hold them; a request refused
    at the door names the line of the customer entry it refused."""
    tenant = applying.tenant()
    run_load(
        applying,
        tenant,
        "masivo-customers",
        [jsonl(tmp_path / "c.jsonl", [customer(f"c{i}", 0) for i in range(600)])],
        tmp_path,
    )
    events = [
        {"id": f"c{i}", "events": [purchase(f"p{i}a", 1), purchase(f"p{i}b", 1)]}
        for i in range(600)
    ]
    outcome = run_load(
        applying, tenant, "masivo-events", [jsonl(tmp_path / "e.jsonl", events)], tmp_path
    )
    assert outcome.counts["applied"] == 1200
    batches = applying.get("/v1/batches", tenant, params={"run": outcome.run}).json()["batches"]
    assert max(b["counts"]["total"] for b in batches) <= 1000
    bad = [{"id": "c1", "events": [purchase("q1", 1)]}, {"id": "c2", "events": []}]
    run_load(applying, tenant, "masivo-events", [jsonl(tmp_path / "b.jsonl", bad)], tmp_path)
    rows = report_rows(tmp_path)
    assert [(int(r["line"]), r["outcome"]) for r in rows] == [(1, "failed"), (2, "failed")]
    assert rows[1]["code"] != "request_refused"
    assert rows[0]["code"] == "request_refused"


def test_a_rehearsal_and_the_real_thing_never_stand_for_each_other(
    applying: Harness, tmp_path: Path
) -> None:
    """A real load named like an earlier dry run is refused before anything is sent (its state
    says dry run), and on the server a dry run's request key replayed as real is a 409."""
    tenant = applying.tenant()
    path = jsonl(tmp_path / "x.jsonl", [_customer(1)])
    run_load(applying, tenant, "transition", [path], tmp_path, run="same", dry_run=True)
    with pytest.raises(StateError):
        run_load(applying, tenant, "transition", [path], tmp_path, run="same")
    dry = {"X-Roster-Run": "r2", "X-Roster-Dry-Run": "true", "Idempotency-Key": "k"}
    assert applying.transition(tenant, [_customer(2)], **dry).status_code == 200
    real = applying.transition(tenant, [_customer(2)], **{"Idempotency-Key": "k"})
    assert (real.status_code, real.json()["error"]["field"]) == (409, "Idempotency-Key")
    assert applying.customer(tenant, "c1") is None
