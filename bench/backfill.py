"""The backfill stage: a CSV people import and a Customer.io ``/v1/batch`` event backfill, each
against the raw insert of the same rows in the same run.

Both workloads run on each store with the processes of the transition stage (``e2e.LAYOUTS``:
SQLite ``roster serve`` with a worker process, PostgreSQL an API and two workers), started
anew on a fresh database for every file and every rep.

* **People import** (``imp_*``): ``POST /v1/imports/people`` with a ``text/csv`` body streamed
  from a file on disk (``--full`` 10 MB and 100 MB, ``--quick`` 1 MB and 10 MB; 8 columns,
  about 100 bytes a row, seed 42), then ``GET /v1/batches/{id}`` until it is done. One server
  per file, so each file's peak RSS (``VmHWM``) is its own and the two can be compared. The
  anchor (``LI_*``) inserts the same people as Roster stores them (a ``customers`` row and an
  email ``customer_identifiers`` row each) into Roster's own tables, ``executemany`` /
  ``COPY``, one commit per 1,000 rows (``anchors.sqlite_insert_tables`` / ``pg_copy_tables``).
* **Event backfill** (``bf_*``): 200,000 ``track`` calls (``--quick`` 20,000) of 20,000 people
  (2,000) spread over the last two years, 1,500 a body, through ``POST /v1/batch`` with
  ``Basic base64(api_key:)``. The anchor (``LB_*``) is the transition stage's events anchor
  (``anchors.sqlite_insert`` / ``pg_copy``: Roster's events table with its indexes) on the
  same events as Roster stores them.
"""

from __future__ import annotations

import csv
import random
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench import anchors, e2e, load, server
from bench.config import SEED, Profile
from bench.dataset import PLANS
from bench.migration import IDENTIFIER_COLUMNS, check_kind
from bench.probe import Probe
from bench.verify import check_ledger, check_load, expect
from roster.domain.campaigns import can_trigger
from roster.domain.identity import normalise_identifier
from roster.domain.timestamps import format_ms
from roster.store.profiles import NEW_COLUMNS as NEW_CUSTOMER_COLUMNS

IMPORT_PATH = "/v1/imports/people"
IMPORT_KIND = "customerio.people_csv"
BATCH_PATH = "/v1/batch"
BATCH_KIND = "customerio"
#: The two files of each profile, in bytes: the larger is ten times the smaller (and below
#: Roster's default ``csv_max_bytes``, 100 MiB).
FILE_BYTES = {"quick": (1_000_000, 10_000_000), "full": (10_000_000, 100_000_000)}
HEADER = ("id", "email", "first_name", "last_name", "plan", "city", "country", "signup_ts")
FIRST_NAMES = ("Olivia", "Liam", "José", "Sofía", "Noah", "Mia", "Lukas", "Zoë", "Aiko", "Mateo")
LAST_NAMES = ("Martinez", "Müller", "O'Brien", "Nakamura", "García", "Smith", "Nguyen", "Rossi")
#: City and country; one city needs quoting (its comma), others are not ASCII.
CITIES = (
    ("Mexico City", "MX"),
    ("São Paulo", "BR"),
    ("Washington, D.C.", "US"),
    ("Zürich", "CH"),
    ("Berlin", "DE"),
    ("Austin", "US"),
    ("Bogotá", "CO"),
    ("Osaka", "JP"),
)
#: Sign-up times: a second of one of the days from 2018-01-01 on, six years of them.
SIGNUP_FROM_MS = 1_514_764_800_000
SIGNUP_DAYS = 6 * 365
#: People read back after each import: about this many, spread over the file, and the last.
PEOPLE_SAMPLES = 10
#: The slowest apply a rep waits for (rows/s): the wait for a file is bounded by its rows.
MIN_ROWS_S = 2_000.0
POLL_S = 0.2
#: ``GET /v1/batches/{id}?issues_limit=``: the most issues read on one page.
ISSUES_PAGE = 10_000
#: ``/v1/batch`` bodies: at most 500 KB (``batch_max_body_bytes``); 1,500 calls is ~270 KB.
PER_BODY = 1_500
MAX_BATCH_BYTES = 512_000
TWO_YEARS_MS = 2 * 365 * 86_400_000
#: Every event happened at least a minute before the data set was built.
MIN_AGE_MS = 60_000
EVENT_NAMES = ("purchased", "viewed_product", "added_to_cart", "searched")
CATEGORIES = ("shoes", "books", "garden", "toys", "audio")
EVENT_SAMPLES = 5
ANCHOR_WORKSPACE = "BENCHBACKFIL"

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class PeopleFile:
    """A CSV file of people on disk, and a few of its rows as the profiles must show them."""

    label: str
    path: Path
    size: int
    rows: int
    #: ``id`` -> the row's attributes (every other column, as text).
    samples: dict[str, dict[str, str]]

    def summary(self) -> dict[str, Any]:
        return {
            "bytes": self.size,
            "rows": self.rows,
            "bytes_per_row": round(self.size / self.rows),
        }


@dataclass(slots=True)
class BackfillData:
    """The import files, the backfill's bodies, its events as rows, and what to read back."""

    files: list[PeopleFile]
    bodies: list[bytes]
    counts: list[int]
    event_rows: list[anchors.Row]
    #: Distinct people the events name (each becomes a customer).
    people: int
    base_ms: int
    #: ``userId`` -> its events as ``(timestamp, name, properties)``, sorted.
    samples: dict[str, list[tuple[str, str, dict[str, Any]]]] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return len(self.event_rows)

    def summary(self) -> dict[str, Any]:
        return {
            "seed": SEED,
            "base_ms": self.base_ms,
            "files": {f.label: f.summary() for f in self.files},
            "events": self.events,
            "people": self.people,
            "bodies": len(self.bodies),
            "events_per_body": PER_BODY,
            "body_bytes_max": max(map(len, self.bodies)),
            "event_samples": {user: len(events) for user, events in self.samples.items()},
        }


def build(profile: Profile, workdir: Path, base_ms: int | None = None) -> BackfillData:
    """Write the profile's two CSV files into ``workdir`` and build the event backfill
    (``profile.elements`` events of ``profile.customer_pool`` people, before ``base_ms``)."""
    files = [_write_people(workdir, size) for size in FILE_BYTES[profile.name]]
    base = base_ms if base_ms is not None else int(time.time() * 1000)
    data = BackfillData(files, [], [], [], 0, base)
    _build_events(profile, data)
    return data


# --- the data ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """A CSV cell: quoted when it holds a comma, a quote or a line break."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded.replace("'", "")


#: ``(value, its CSV cell, its ASCII form for the email)`` of each name, and each city's
#: ``(city, its cell, country)``: the cells are worked out once, not per row.
_FIRST = [(n, _cell(n), _ascii(n)) for n in FIRST_NAMES]
_LAST = [(n, _cell(n), _ascii(n)) for n in LAST_NAMES]
_CITIES = [(city, _cell(city), country) for city, country in CITIES]
_DAYS = [format_ms(SIGNUP_FROM_MS + d * 86_400_000)[:10] for d in range(SIGNUP_DAYS)]


def _signup(rng: random.Random) -> str:
    """A sign-up time as text (``2021-04-05T10:11:12Z``), cheaper than formatting one."""
    hours, seconds = divmod(rng.randrange(86_400), 3_600)
    return f"{rng.choice(_DAYS)}T{hours:02d}:{seconds // 60:02d}:{seconds % 60:02d}Z"


def _write_people(workdir: Path, target: int) -> PeopleFile:
    """Rows of seed 42 until the next would pass ``target`` bytes, written as they are made
    (the smaller file is the head of the larger)."""
    rng = random.Random(SEED)
    label = f"{target / 1_000_000:g}MB"
    path = workdir / f"people-{label}.csv"
    step = max(1, target // 100 // PEOPLE_SAMPLES)
    samples: dict[str, dict[str, str]] = {}
    rows = 0
    last: tuple[str, dict[str, str]] | None = None
    with path.open("wb") as out:
        size = out.write((",".join(HEADER) + "\n").encode())
        while True:
            n = rows + 1
            first, first_cell, first_ascii = rng.choice(_FIRST)
            family, family_cell, family_ascii = rng.choice(_LAST)
            city, city_cell, country = rng.choice(_CITIES)
            plan = rng.choice(PLANS)
            signup = _signup(rng)
            cid, email = f"p{n:07d}", f"{first_ascii}.{family_ascii}{n}@Example.com"
            cells = (cid, email, first_cell, family_cell, plan, city_cell, country, signup)
            line = (",".join(cells) + "\n").encode()
            if size + len(line) > target:
                break
            size += out.write(line)
            rows = n
            if n % step == 1 or size + 2 * len(line) > target:  # spread, and near the end
                values = (email, first, family, plan, city, country, signup)
                last = (cid, dict(zip(HEADER[1:], values, strict=True)))
                samples[cid] = last[1]
    assert last is not None
    samples[last[0]] = last[1]
    return PeopleFile(label, path, size, rows, samples)


def _properties(rng: random.Random, name: str) -> dict[str, Any]:
    sku = f"SKU-{rng.randrange(5_000):04d}"
    if name == "purchased":
        return {"price": round(rng.uniform(1, 500), 2), "sku": sku, "currency": "USD"}
    if name == "added_to_cart":
        return {"sku": sku, "price": round(rng.uniform(1, 500), 2), "quantity": rng.randrange(1, 5)}
    if name == "viewed_product":
        return {"sku": sku, "category": rng.choice(CATEGORIES)}
    return {"query": f"q{rng.getrandbits(24):06x}", "results": rng.randrange(100)}


def _event_key(event: tuple[str, str, dict[str, Any]]) -> tuple[str, str, bytes]:
    return event[0], event[1], _encode(event[2])


def _build_events(profile: Profile, data: BackfillData) -> None:
    """``track`` calls of seed 42, ``PER_BODY`` a body, and each as the row Roster stores."""
    rng = random.Random(SEED)
    users = [f"u{k:06d}" for k in range(profile.customer_pool)]
    uids: dict[str, int] = {}
    sent: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    chosen = {users[0], users[len(users) // 2], users[-1]}
    for start in range(0, profile.elements, PER_BODY):
        batch = str(uuid.UUID(int=rng.getrandbits(128)))  # as long as Roster's batch ids
        calls = []
        for n in range(start, min(start + PER_BODY, profile.elements)):
            user = rng.choice(users)
            uid = uids.setdefault(user, len(uids) + 1)
            name = rng.choice(EVENT_NAMES)
            properties = _properties(rng, name)
            occurred = data.base_ms - rng.randrange(MIN_AGE_MS, TWO_YEARS_MS)
            message_id = f"bf-{n:07d}-{rng.getrandbits(32):08x}"
            stamp = format_ms(occurred)
            text = _encode(properties)
            call = {"type": "track", "userId": user, "event": name}
            call |= {"properties": msgspec.Raw(text), "timestamp": stamp, "messageId": message_id}
            calls.append(call)
            sent.setdefault(user, []).append((stamp, name, properties))
            trigger = can_trigger(occurred, data.base_ms, migrated=False)
            head = (ANCHOR_WORKSPACE, uid, uid, name, occurred, None, None, None, None, None)
            tail = (data.base_ms, batch, trigger, False, message_id, None)
            data.event_rows.append((*head, text.decode(), *tail))
        body = _encode({"batch": calls})
        assert len(body) <= MAX_BATCH_BYTES, len(body)
        data.bodies.append(body)
        data.counts.append(len(calls))
    by_count = sorted(sent, key=lambda u: (len(sent[u]), u))
    chosen |= {by_count[0], by_count[-1]}
    data.samples = {u: sorted(sent[u], key=_event_key) for u in sorted(chosen) if u in sent}
    data.people = len(uids)


# --- the people import ---------------------------------------------------------------------


def run_import_sqlite(
    data: BackfillData, profile: Profile, workdir: Path, settings: dict[str, str]
) -> dict[str, Any]:
    """One rep of the import on SQLite: each file on a fresh server and database."""
    return _per_file(
        data,
        lambda file: e2e.on_sqlite(
            workdir, settings, partial(_measure_import, file=file, profile=profile)
        ),
    )


def run_import_postgres(
    data: BackfillData, profile: Profile, workdir: Path, settings: dict[str, str], admin: str
) -> dict[str, Any]:
    """One rep of the import on PostgreSQL: each file on fresh processes and database."""
    return _per_file(
        data,
        lambda file: e2e.on_postgres(
            workdir, settings, admin, partial(_measure_import, file=file, profile=profile)
        ),
    )


def _per_file(data: BackfillData, run: Callable[[PeopleFile], dict[str, Any]]) -> dict[str, Any]:
    sizes: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for file in data.files:
        sizes[file.label] = found = run(file)
        problems += [f"{file.label}: {p}" for p in found["problems"]]
    progress = "; ".join(
        f"{label} {r['applied_el_s']:,.0f} rows/s {r['peak_rss_mb']:.0f} MB"
        for label, r in sizes.items()
    )
    return {"ok": not problems, "problems": problems, "sizes": sizes, "progress": progress}


def _measure_import(
    procs: list[server.Proc],
    probe: Probe,
    base_url: str,
    tenant: server.Tenant,
    file: PeopleFile,
    profile: Profile,
) -> dict[str, Any]:
    """Stream the file up, wait for its batch to be done, read memory, then cross-check."""
    memory_start = server.memory_of_live(procs)
    cap = max(profile.post_cap_s, file.rows / MIN_ROWS_S)
    headers = {**tenant.auth, "Content-Type": "text/csv"}
    posted, answer = load.post_file(base_url, IMPORT_PATH, headers, file.path, file.rows, cap)
    _, backlog = probe.progress()
    with httpx.Client(base_url=base_url, headers=tenant.auth, timeout=30.0) as client:
        batch_id = answer.get("batch_id")
        view = wait_batch(client, str(batch_id), cap) if batch_id else {}
        memory = server.memory_of_live(procs)
        problems = check_load(posted, 1, "imports accepted (202)")
        problems += _check_import(client, probe, answer, view, file)
    problems += [f"{p.role} exited early" for p in procs if p.popen.poll() is not None]
    found = e2e.figures(posted, _store(probe), backlog, memory_start, memory, problems)
    found["accept_seconds"] = accept_s = found["load"]["accept_seconds"]
    found["apply_seconds"] = round(found["applied_seconds"] - accept_s, 3)
    found |= {"rows": file.rows, "bytes": file.size}
    found["batch"] = {k: view.get(k) for k in ("status", "started_at", "finished_at", "attempts")}
    return found | _logs(procs)


def _store(probe: Probe, ledger: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """What ``e2e.figures`` reads of the store: its counts, issues and ledger (``ledger`` if
    read before)."""
    ledger = probe.ledger() if ledger is None else ledger
    return {"counts": probe.counts(), "ledger": ledger, "issues": probe.issues()}


def _logs(procs: list[server.Proc]) -> dict[str, Any]:
    """The workers' logged apply times, and what the processes logged at warning or above."""
    return {"worker_log": e2e.apply_log(procs), "server_log": server.log_issues(procs)}


def wait_batch(client: httpx.Client, batch_id: str, cap_s: float) -> dict[str, Any]:
    """``GET /v1/batches/{id}`` until the batch is ``done`` or ``failed``, at most ``cap_s``
    seconds; the last view read (``{}`` if none)."""
    deadline = time.monotonic() + cap_s
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/v1/batches/{batch_id}")
        if response.status_code == 200:
            view = response.json()
            if view.get("status") in ("done", "failed"):
                break
        time.sleep(POLL_S)
    return view


def _check_import(
    client: httpx.Client,
    probe: Probe,
    answer: dict[str, Any],
    view: dict[str, Any],
    file: PeopleFile,
) -> list[str]:
    """The answer and the batch count every row, every row applied, one customer per row, and
    the sampled people read back with exactly their row's cells as attributes."""
    problems: list[str] = []
    expect(problems, "import answer status", answer.get("status"), "accepted")
    expect(problems, "import answer rows", answer.get("rows"), file.rows)
    expect(problems, "import batch status", view.get("status"), "done")
    whole = {"total": file.rows, "applied": file.rows, "skipped": 0, "failed": 0}
    expect(problems, "import batch counts", view.get("counts"), whole)
    if view.get("errors") or view.get("warnings") or view.get("last_error"):
        problems.append(
            f"import batch issues: last_error {view.get('last_error')!r}, errors "
            f"{(view.get('errors') or [])[:3]}, warnings {(view.get('warnings') or [])[:3]}"
        )
    problems += check_kind(client, IMPORT_KIND, [file.rows])
    expect(problems, "customers stored", probe.counts()["customers"], file.rows)
    for cid, attributes in file.samples.items():
        response = client.get(f"/v1/customers/{cid}")
        if response.status_code != 200:
            problems.append(f"GET /v1/customers/{cid}: HTTP {response.status_code}")
            continue
        expect(problems, f"attributes of {cid}", response.json().get("attributes"), attributes)
    cid, attributes = next(iter(file.samples.items()))
    email = attributes["email"].upper()  # the index holds it lower-cased
    response = client.get("/v1/customers", params={"email": email})
    found = response.json().get("customer_id") if response.status_code == 200 else response
    expect(problems, f"customer found by email {email}", found, cid)
    return problems


# --- the event backfill --------------------------------------------------------------------


def run_events_sqlite(
    data: BackfillData, profile: Profile, workdir: Path, settings: dict[str, str]
) -> dict[str, Any]:
    return e2e.on_sqlite(workdir, settings, partial(_measure_events, data=data, profile=profile))


def run_events_postgres(
    data: BackfillData, profile: Profile, workdir: Path, settings: dict[str, str], admin: str
) -> dict[str, Any]:
    measure = partial(_measure_events, data=data, profile=profile)
    return e2e.on_postgres(workdir, settings, admin, measure)


def _measure_events(
    procs: list[server.Proc],
    probe: Probe,
    base_url: str,
    tenant: server.Tenant,
    data: BackfillData,
    profile: Profile,
) -> dict[str, Any]:
    """Post every body, wait for the drain, read memory and the ledger, then cross-check
    (which posts one body again: its batch is left out of the figures)."""
    memory_start = server.memory_of_live(procs)
    cpu_before = time.process_time()
    posted = load.post_all(
        base_url, BATCH_PATH, tenant.key_auth, data.bodies, data.counts, profile.post_cap_s
    )
    loadgen_cpu_s = round(time.process_time() - cpu_before, 1)
    _, backlog = probe.progress()
    drained = probe.wait_drained(posted.ok, profile.drain_cap_s)
    memory = server.memory_of_live(procs)
    ledger = probe.ledger()
    problems = [] if drained else [f"queue not drained within {profile.drain_cap_s}s"]
    problems += _check_events(probe, posted, ledger, data, base_url, tenant, profile)
    problems += [f"{p.role} exited early" for p in procs if p.popen.poll() is not None]
    found = e2e.figures(posted, _store(probe, ledger), backlog, memory_start, memory, problems)
    return found | {"loadgen_cpu_s": loadgen_cpu_s} | _logs(procs)


def _check_events(
    probe: Probe,
    posted: load.LoadResult,
    ledger: dict[str, dict[str, int]],
    data: BackfillData,
    base_url: str,
    tenant: server.Tenant,
    profile: Profile,
) -> list[str]:
    """Every body answered 200 and applied whole, one event stored per call and one customer
    per person, the sampled people's events read back as sent, and a body posted again
    skipped whole as duplicates."""
    problems = check_load(posted, len(data.bodies), "batch requests accepted (200)")
    problems += check_ledger(ledger, len(data.bodies), data.events, "events")
    counts = probe.counts()
    expect(problems, "events stored", counts["events"], data.events)
    expect(problems, "customers stored", counts["customers"], data.people)
    with httpx.Client(base_url=base_url, headers=tenant.auth, timeout=30.0) as client:
        problems += check_kind(client, BATCH_KIND, data.counts)
        for user, events in data.samples.items():
            problems += _check_person_events(client, user, events)
        if problems:  # a queue that did not drain would keep the duplicate body waiting too
            problems.append("duplicate body not posted: the run is already wrong")
        else:
            problems += _check_duplicate(client, probe, data, tenant, profile.drain_cap_s)
    return problems


def _check_person_events(
    client: httpx.Client, user: str, sent: list[tuple[str, str, dict[str, Any]]]
) -> list[str]:
    response = client.get(f"/v1/customers/{user}/events", params={"limit": 10_000})
    if response.status_code != 200:
        return [f"GET /v1/customers/{user}/events: HTTP {response.status_code}"]
    events = response.json()["events"]
    problems: list[str] = []
    expect(problems, f"events of {user}", len(events), len(sent))
    stored = sorted(
        ((e["occurred_at"], e["name"], e["attributes"]) for e in events), key=_event_key
    )
    if len(events) == len(sent) and stored != sent:
        wrong = next(pair for pair in zip(stored, sent, strict=True) if pair[0] != pair[1])
        problems.append(f"an event of {user}: stored {wrong[0]}, sent {wrong[1]}")
    return problems


def _check_duplicate(
    client: httpx.Client, probe: Probe, data: BackfillData, tenant: server.Tenant, cap_s: float
) -> list[str]:
    """The first body posted again (the same ``messageId``s): every call skipped as
    ``duplicate_ignored`` and no event stored, so deduplication was on in the measured run."""
    problems: list[str] = []
    headers = {**tenant.key_auth, "Content-Type": "application/json"}
    response = client.post(BATCH_PATH, content=data.bodies[0], headers=headers)
    answer = response.json() if response.status_code == 200 else {}
    if answer.get("success") is not True or not answer.get("batch_id"):
        return [f"duplicate body: HTTP {response.status_code} {response.text[:200]}"]
    batch_id = answer["batch_id"]
    wait_batch(client, batch_id, cap_s)
    # Read again with every warning on one page (``issues_limit``; 1,000 by default).
    view = client.get(f"/v1/batches/{batch_id}", params={"issues_limit": ISSUES_PAGE}).json()
    n = data.counts[0]
    whole = {"total": n, "applied": 0, "skipped": n, "failed": 0}
    expect(problems, "duplicate body counts", view.get("counts"), whole)
    codes = Counter(w["code"] for w in view.get("warnings") or [])
    expect(problems, "duplicate body warnings", dict(codes), {"duplicate_ignored": n})
    expect(
        problems, "events stored after the duplicate body", probe.counts()["events"], data.events
    )
    return problems


# --- the anchors ---------------------------------------------------------------------------


def people_tables(file: PeopleFile, now: int) -> list[anchors.Table]:
    """The file's people as Roster stores them: a ``customers`` row each (attributes and their
    times as JSON text) and an email entry in ``customer_identifiers``; read from the file."""
    customers: list[anchors.Row] = []
    identifiers: list[anchors.Row] = []
    batch = str(uuid.UUID(int=file.rows))
    with file.path.open(encoding="utf-8", newline="") as text:
        records = csv.reader(text)
        header = next(records)
        assert header[0] == "id", header
        names = header[1:]
        times = _encode(dict.fromkeys(names, now)).decode()  # every cell written at accept
        sources = _encode(dict.fromkeys(names, batch)).decode()  # and by this batch
        for uid, record in enumerate(records, start=1):
            attributes = dict(zip(names, record[1:], strict=True))
            text = _encode(attributes).decode()
            row = (uid, ANCHOR_WORKSPACE, record[0], text, times, sources, now, now)
            customers.append((*row, batch, False, None, None))
            email = normalise_identifier("email", attributes["email"])
            identifiers.append((ANCHOR_WORKSPACE, "email", email, uid))
    assert len(customers) == file.rows
    return [
        anchors.Table("customers", NEW_CUSTOMER_COLUMNS, customers),
        anchors.Table("customer_identifiers", IDENTIFIER_COLUMNS, identifiers),
    ]


def anchor_people_sqlite(data: BackfillData, workdir: Path) -> dict[str, Any]:
    return _anchor_people(data, lambda tables: anchors.sqlite_insert_tables(tables, workdir))


def anchor_people_pg(data: BackfillData, admin: str) -> dict[str, Any]:
    workspace = anchors.workspace_row(ANCHOR_WORKSPACE)
    return _anchor_people(
        data, lambda tables: anchors.pg_copy_tables(tables, admin, workspace=workspace)
    )


def _anchor_people(
    data: BackfillData, insert: Callable[[list[anchors.Table]], dict[str, Any]]
) -> dict[str, Any]:
    """Each file's people inserted into a fresh database (rows built untimed, first)."""
    sizes: dict[str, dict[str, Any]] = {}
    for file in data.files:
        found = insert(people_tables(file, int(time.time() * 1000)))
        found["people"] = file.rows
        found["people_per_s"] = round(file.rows / found["seconds"], 1)
        sizes[file.label] = found
    progress = "; ".join(f"{k} {r['people_per_s']:,.0f} people/s" for k, r in sizes.items())
    return {"sizes": sizes, "progress": progress}


def anchor_events_sqlite(data: BackfillData, workdir: Path) -> dict[str, Any]:
    return anchors.sqlite_insert(data.event_rows, workdir)


def anchor_events_pg(data: BackfillData, admin: str) -> dict[str, Any]:
    return anchors.pg_copy(data.event_rows, admin)
