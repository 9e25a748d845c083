"""One ``roster load``: read the files, send them as a run, wait for it, write its report.

1. Ask the target what it is: a Roster (its ``/healthz``) states its request and rate limits
   (``GET /v1/workspace``); anything else is taken as the vendor itself, with its published
   limits.
2. Open the run's state (``state.py``): a new run, or the one this command started before.
3. Pack the files into chunks (``packing.py``) and send them, ``concurrency`` at a time
   (``sender.py``); chunks the run's state holds as accepted are not sent again. A dry run
   then asks the server to decide it.
4. Unless told not to wait, follow the run on the server until every batch is done, then
   write the report (``report.py``) and say what happened.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from roster.loader.kinds import KINDS, Limits, LoadKind, server_limits
from roster.loader.packing import Chunk, Rejected, chunks
from roster.loader.report import Part, Report, Summary
from roster.loader.sender import Answer, LoadStopped, Sender
from roster.loader.state import Ack, ChunkLines, RunState

POLL_SECONDS = 0.5
ISSUES_PAGE = 5_000
EFFECTS_PAGE = 200


@dataclass
class LoadRequest:
    kind: str
    files: list[str]
    url: str
    workspace: str
    key: str
    run: str | None = None
    concurrency: int = 4
    wait: bool = True
    report: Path | None = None
    options: dict[str, str] = field(default_factory=dict)
    state_dir: Path = Path(".roster-load")
    #: Rehearse: the run is decided against the workspace's state and rolled back, its ledger
    #: kept (Roster only); at most ``sample`` elements are sent.
    dry_run: bool = False
    sample: int = 50_000
    #: The report lists applied records too, with what each did (always, for a dry run).
    every_record: bool = False
    #: Tests send through an in-process transport, and give up sooner.
    transport: httpx.BaseTransport | None = None
    retries: int = 8


@dataclass
class Progress:
    """What the load has done so far, for the progress display."""

    records_read: int = 0
    records_sent: int = 0
    records_accepted: int = 0
    elements_total: int = 0
    applied: int = 0
    skipped: int = 0
    failed: int = 0
    batches_queued: int = 0
    started: float = field(default_factory=time.monotonic)
    done_sending: bool = False
    #: The run is applied (or not followed): the last line to show.
    finished: bool = False
    run: str = ""


@dataclass
class Outcome:
    run: str
    report: Path | None
    summary: Summary
    counts: dict[str, int]
    roster: bool
    refused_chunks: int
    #: The applied elements by what they did (Roster only).
    effects: dict[str, int] = field(default_factory=dict)


Listener = Callable[[Progress], None]


def load(request: LoadRequest, listen: Listener = lambda p: None) -> Outcome:
    """Run the load; ``LoadStopped`` when it cannot go on (with what to do)."""
    kind = KINDS[request.kind]
    files = [f if f == "-" else os.path.abspath(f) for f in request.files]
    stated = _probe(request, kind)
    roster = stated is not None
    if request.dry_run and not roster:
        raise LoadStopped("a dry run needs a Roster server: the vendors have no dry runs")
    run = request.run or _run_name(kind, files, dry=request.dry_run)
    limits = server_limits(kind, stated.get("requests") if stated else None)
    plan = {
        "run": run,
        "kind": kind.name,
        "files": files,
        "labels": ["<stdin>" if f == "-" else f for f in request.files],  # as named
        "started": time.time(),
        "options": request.options,
        "target": request.url.rstrip("/"),
        "limits": {"max_bytes": limits.max_bytes, "max_records": limits.max_records},
        "max_elements": _budget(kind, stated),
        "dry_run": request.dry_run,
    }
    if request.dry_run:
        # Its batches are decided in the order they are accepted: one request at a time, so
        # that order is the file's, as a real run sent with --concurrency 1 has it.
        request.concurrency = 1
    state = RunState.open(request.state_dir, run, plan)
    progress = Progress(run=run)
    sender = Sender(
        kind,
        request.url,
        request.workspace,
        request.key,
        run=run if roster else None,
        query=request.options if kind.name == "people" else {},
        transport=request.transport,
        retries=request.retries,
        dry_run=request.dry_run,
    )
    try:
        _send_all(request, kind, files, state, sender, progress, listen)
        job = _decide(sender, run) if request.dry_run else None
        progress.done_sending = True
        listen(progress)
        if not request.wait:
            progress.finished = True
            listen(progress)
            return Outcome(run, None, Summary(), {}, roster, _refused(state))
        state.close()  # the report reads what was written
        counts, effects = _follow(sender, run, progress, listen, job) if roster else ({}, {})
        progress.finished = True
        listen(progress)
        report_path = request.report or Path(f"roster-load-{run}.csv")
        every = request.every_record or request.dry_run
        summary = _write_report(sender, run, request.state_dir, report_path, roster, every)
    finally:
        sender.close()
        state.close()
    return Outcome(run, report_path, summary, counts, roster, _refused(state), effects)


def _probe(request: LoadRequest, kind: LoadKind) -> dict[str, Any] | None:
    """A Roster server's description of the workspace (its limits), or ``None`` for a vendor.
    Roster is told by its unauthenticated ``/healthz``; only then are the credentials checked,
    so a vendor's answer to a path it does not have never stops the load."""
    token = httpx.BasicAuth(request.workspace, request.key)
    try:
        with httpx.Client(base_url=request.url, transport=request.transport, timeout=30) as c:
            health = c.get("/healthz")
            if not _is_roster(health):
                return None
            response = c.get("/v1/workspace", auth=token)
    except httpx.TransportError as exc:
        raise LoadStopped(f"cannot reach {request.url}: {exc} (is the server running?)") from None
    if response.status_code in (401, 403):
        raise LoadStopped(
            f"{request.url} refused the credentials ({response.status_code}): check --workspace "
            "and the key in ROSTER_KEY"
        )
    body = _json(response)
    if response.status_code != 200 or body.get("workspace_id") != request.workspace:
        raise LoadStopped(
            f"{request.url} is a Roster server, but did not describe workspace "
            f"{request.workspace!r} ({response.status_code}): check --workspace"
        )
    return body


def _is_roster(response: httpx.Response) -> bool:
    body = _json(response)
    return response.status_code in (200, 503) and body.get("status") in ("ok", "unavailable")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _budget(kind: LoadKind, stated: dict[str, Any] | None) -> int | None:
    """The most elements one request may hold: the kind's own cap, and the workspace's
    per-minute limits (a file import is not charged to them)."""
    caps = [kind.max_entries] if kind.max_entries is not None else []
    if kind.name == "people":
        return min(caps, default=None)
    limits = (stated or {}).get("limits") or {}
    names = (
        ("merges_per_minute",)
        if kind.name == "merges"
        else (
            "users_per_minute",
            "events_per_minute",
        )
    )
    found = [limits[n] for n in names if isinstance(limits.get(n), int)]
    return min([*caps, *found], default=None)


def _run_name(kind: LoadKind, files: list[str], *, dry: bool) -> str:
    """A run name the same command gives again (so running it again resumes the run): from
    the kind and each file's path, size and first megabyte; standard input gets a new one. A
    dry run's name says so (a real run of the same files is another run)."""
    prefix = "dry-run" if dry else "load"
    if "-" in files:
        return f"{prefix}-{kind.name}-{secrets.token_hex(5)}"
    digest = hashlib.sha256(kind.name.encode())
    for path in files:
        digest.update(path.encode() + b"\0" + str(os.path.getsize(path)).encode())
        with open(path, "rb") as f:
            digest.update(f.read(1 << 20))
    return f"{prefix}-{kind.name}-{digest.hexdigest()[:12]}"


def _send_all(
    request: LoadRequest,
    kind: LoadKind,
    files: list[str],
    state: RunState,
    sender: Sender,
    progress: Progress,
    listen: Listener,
) -> None:
    stored = state.plan["limits"]
    limits = Limits(stored["max_bytes"], stored["max_records"])
    in_flight: deque[tuple[Chunk, Future[Answer]]] = deque()
    pool = ThreadPoolExecutor(max_workers=request.concurrency)
    try:
        for chunk in chunks(kind, files, limits, state.plan["max_elements"]):
            if isinstance(chunk, Rejected):
                state.reject(chunk.file, chunk.line, chunk.message)
                continue
            if request.dry_run and progress.elements_total + chunk.elements > request.sample:
                chunk.body.close()  # a dry run is a sample: the first chunks that fit
                break
            progress.records_read += len(chunk.lines)
            progress.elements_total += chunk.elements
            state.record_chunk(ChunkLines(chunk.seq, chunk.file, chunk.lines, chunk.counts))
            ack = state.acks.get(chunk.seq)
            if ack is not None and ack.refused is None:  # accepted before: not sent again
                progress.records_sent += len(chunk.lines)
                progress.records_accepted += len(chunk.lines)
                chunk.body.close()
                continue
            key = f"{state.key_prefix}:{chunk.seq}"
            sent = pool.submit(sender.send, chunk.body, chunk.size, key, chunk.elements)
            in_flight.append((chunk, sent))
            progress.records_sent += len(chunk.lines)
            listen(progress)
            while len(in_flight) >= request.concurrency:
                _settle(in_flight.popleft(), state, progress)
                listen(progress)
        while in_flight:
            _settle(in_flight.popleft(), state, progress)
            listen(progress)
        pool.shutdown(wait=True)
    except BaseException:  # stopping (Ctrl-C, a refusal, no target): the other senders stop too
        sender.pacer.stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        for chunk, _ in in_flight:  # the load stopped: what was in flight is not acknowledged
            chunk.body.close()


def _settle(sent: tuple[Chunk, Future[Answer]], state: RunState, progress: Progress) -> None:
    """The answer to the oldest request in flight, recorded (by the main thread only)."""
    chunk, future = sent
    try:
        answer = future.result()  # LoadStopped ends the load here, after what was acknowledged
    finally:
        chunk.body.close()
    if 200 <= answer.status < 300:
        state.acknowledge(Ack(chunk.seq, answer.batch_id))
        progress.records_accepted += len(chunk.lines)
    else:
        state.acknowledge(Ack(chunk.seq, None, {"status": answer.status, "body": answer.body}))


def _decide(sender: Sender, run: str) -> str | None:
    """Ask the server to decide the dry run, now that all of it is held (again on a resumed
    run: a run decided already answers that nothing is left, and a run of which every request
    was refused is not found; both are fine)."""
    response = sender.client.post(f"/v1/runs/{run}/dry-run", headers=_reading(sender))
    if response.status_code not in (202, 404, 409):
        raise LoadStopped(f"the server refused to decide the dry run: {response.text[:300]}")
    found = _json(response).get("batch_id") if response.status_code == 202 else None
    return found if isinstance(found, str) else None


def _follow(
    sender: Sender, run: str, progress: Progress, listen: Listener, job: str | None
) -> tuple[dict[str, int], dict[str, int]]:
    """Poll the run until every batch of it is done; its counts and effects. A dry run's
    decision that the server gave up on stops the load (its batches would stay held)."""
    while True:
        view = _read(sender, f"/v1/runs/{run}")
        if view is None:  # nothing was accepted under this run
            return {"total": 0, "applied": 0, "skipped": 0, "failed": 0}, {}
        counts: dict[str, int] = view["counts"]
        progress.applied, progress.skipped = counts["applied"], counts["skipped"]
        progress.failed = counts["failed"]
        progress.elements_total = counts["total"]  # the whole run's (every part of it)
        progress.batches_queued = view["batches"]["queued"] + view["batches"]["processing"]
        listen(progress)
        if view["status"] == "finished":
            return counts, view["effects"]
        decided = _read(sender, f"/v1/batches/{job}") if job is not None else None
        if decided is not None and decided["status"] == "failed":
            raise LoadStopped(f"the server could not decide the dry run: {decided['last_error']}")
        time.sleep(POLL_SECONDS)


def _read(sender: Sender, path: str, params: dict[str, Any] | None = None) -> Any:
    """A read of Roster's API, retried as a send is; ``None`` for a 404."""
    failures = 0
    while True:
        try:
            response = sender.client.get(path, params=params, headers=_reading(sender))
        except httpx.TransportError as exc:
            failures = sender.backoff(failures, f"could not reach the target: {exc}")
            continue
        if response.status_code >= 500:
            failures = sender.backoff(failures, f"the target answered {response.status_code}")
            continue
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise LoadStopped(f"reading {path} was refused: {response.text[:300]}")
        return response.json()


def _write_report(
    sender: Sender, run: str, state_dir: Path, path: Path, roster: bool, every_record: bool
) -> Summary:
    """The report of the whole run: every part of it this state directory holds."""
    parts = [_part(state) for state in RunState.parts(state_dir, run)]
    with Report(path, parts) as report:
        for part in parts:
            for file, line, message in part.state.rejected_records():
                report.rejected(part, file, line, message)
            for ack in sorted(part.state.acks.values(), key=lambda a: a.seq):
                if ack.refused is not None:
                    report.refused_chunk(part, ack.seq, ack.refused)
        if roster:
            report.issues(_pages(sender, f"/v1/runs/{run}/issues", "issues", ISSUES_PAGE))
            failed = _read(sender, "/v1/batches", {"run": run, "status": "failed", "limit": 1000})
            for batch in (failed or {}).get("batches", []):
                report.failed_batch(batch["batch_id"], batch["last_error"] or "failed")
            if every_record:
                for found in _pages(sender, f"/v1/runs/{run}/effects", "batches", EFFECTS_PAGE):
                    report.effects(found["batch_id"], found["effects"])
    return report.summary


def _part(state: RunState) -> Part:
    kind = KINDS[state.plan["kind"]]
    labels = state.plan.get("labels") or state.plan["files"]
    return Part(state, labels, kind.index_base, entries=kind.elements is not None)


def _pages(sender: Sender, path: str, name: str, limit: int) -> Iterator[Any]:
    """Every item of a paged read of Roster's API (``next`` to ``?after=``)."""
    after: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit}
        if after is not None:
            params["after"] = after
        page = _read(sender, path, params)
        if page is None:
            return
        yield from page[name]
        after = page["next"]
        if after is None:
            return


def _reading(sender: Sender) -> dict[str, str]:
    """Credentials for Roster's own read API (the kind's may be Masivo's bearer form)."""
    return {"Authorization": sender.headers["Authorization"]}


def _refused(state: RunState) -> int:
    """Requests refused as a whole, and records that could not be sent."""
    return sum(1 for a in state.acks.values() if a.refused is not None) + len(state.rejected)
