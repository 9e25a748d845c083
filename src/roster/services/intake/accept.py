"""Accepting a write: idempotency, rate limits and the stored batch, in one transaction.

The batch is acknowledged only after this transaction commits (STYLE example 3).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy.exc
import structlog

from roster.domain.batches import MAX_DRY_RUN_ELEMENTS, Status
from roster.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    RateLimited,
    TooManyElements,
)
from roster.domain.workspaces import Workspace
from roster.store import batch_chunks, batches, ratelimit, workspaces
from roster.store.batch_chunks import StoredChunk
from roster.store.database import Database

log = structlog.get_logger("roster.accept")
MAX_KEY_LENGTH = 255
WINDOW_MS = 60_000


@dataclass(frozen=True, slots=True)
class Submission:
    """A request that passed the door, ready to be stored as a batch."""

    kind: str
    payload: bytes
    elements: int
    users: int
    events: int
    idempotency_key: str | None = None
    #: Users merged away (Merge Users' own budget of user updates).
    merges: int = 0
    forwarded_for: str | None = None
    #: The reading of the body's entries made at the door, stored beside it.
    prepared: bytes | None = None
    #: A large body's chunks (a CSV import), read one at a time while they are stored.
    chunks: Callable[[], Iterable[StoredChunk]] | None = None
    #: The run the request belongs to (``X-Roster-Run``), checked.
    run: str | None = None
    #: Part of a dry run (``X-Roster-Dry-Run``): held, then decided with its run and rolled back.
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class Budget:
    """The tightest per-minute budget a request was charged to: its limit, what is left of it
    in this window, and when the window ends (epoch seconds)."""

    limit: int
    remaining: int
    reset_at: int


@dataclass(frozen=True, slots=True)
class Accepted:
    batch_id: str
    replayed: bool
    #: After the charge, for the ``X-RateLimit-*`` headers; ``None`` when nothing was charged.
    budget: Budget | None = None


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        msg = f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} characters"
        raise InvalidIdempotencyKey(msg, field="Idempotency-Key")
    return key


def accept(db: Database, workspace: Workspace, sub: Submission) -> Accepted:
    digest = hashlib.sha256(sub.payload).hexdigest()
    try:
        with db.write() as conn:
            result = _accept(conn, workspace, sub, digest)
    except sqlalchemy.exc.IntegrityError:
        if sub.idempotency_key is None:
            raise
        with db.write() as conn:  # a concurrent request with the same key won the race
            result = _accept(conn, workspace, sub, digest)
    log.info(
        "batch.accepted",
        batch_id=result.batch_id,
        workspace_id=workspace.id,
        kind=sub.kind,
        elements=sub.elements,
        replayed=result.replayed,
        run=sub.run,
    )
    return result


def _accept(conn: sqlalchemy.Connection, ws: Workspace, sub: Submission, digest: str) -> Accepted:
    if sub.idempotency_key is not None:
        first = batches.find_idempotent(conn, ws.id, sub.idempotency_key)
        if first is not None:
            if first[1] != digest:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was first used with a different body",
                    field="Idempotency-Key",
                )
            if first[2] != sub.dry_run:  # a rehearsal never stands for the real thing
                what = "a dry run" if first[2] else "a real run"
                msg = f"this Idempotency-Key was first used in {what}"
                raise Conflict(msg, field="Idempotency-Key")
            return Accepted(first[0], replayed=True)
    workspaces.lock(conn, ws.id)
    if sub.run is not None:
        _check_run(conn, ws, sub)
    # Under the lock, so accept times never run backwards within a workspace (even across API
    # hosts whose clocks differ): they are the source time of untimed attribute writes.
    now = max(int(time.time() * 1000), batches.last_accepted_at(conn, ws.id) or 0)
    budget = None if sub.dry_run else _charge(conn, ws, sub, now)  # a rehearsal writes nothing
    batch_id = str(uuid.uuid4())
    batches.insert(
        conn,
        {
            "id": batch_id,
            "workspace_id": ws.id,
            "kind": sub.kind,
            "status": Status.HELD if sub.dry_run else Status.QUEUED,
            "payload_sha256": digest,
            "idempotency_key": sub.idempotency_key,
            "element_count": sub.elements,
            "accepted_at": now,
            "next_attempt_at": 0,  # ready at once, whatever the workers' clocks say
            "forwarded_for": (sub.forwarded_for or None) and sub.forwarded_for[:1000],
            "run": sub.run,
            "dry_run": sub.dry_run,
        },
        sub.payload,
        sub.prepared,
    )
    if sub.chunks is not None:
        batch_chunks.insert(conn, batch_id, sub.chunks())
    return Accepted(batch_id, replayed=False, budget=budget)


def _check_run(conn: sqlalchemy.Connection, ws: Workspace, sub: Submission) -> None:
    """A run is all dry or all real; a dry run holds at most ``MAX_DRY_RUN_ELEMENTS``."""
    assert sub.run is not None
    found = batches.run_mode(conn, ws.id, sub.run)
    if found is not None and found[0] != sub.dry_run:
        what = "a dry run" if found[0] else "a real run"
        raise Conflict(
            f"run {sub.run!r} is {what}: name the other run otherwise", field="X-Roster-Run"
        )
    held = found[1] if found is not None else 0
    if sub.dry_run and held + sub.elements > MAX_DRY_RUN_ELEMENTS:
        raise TooManyElements(
            f"a dry run holds at most {MAX_DRY_RUN_ELEMENTS} elements (it is decided as one "
            f"transaction); run {sub.run!r} holds {held} and this request {sub.elements}",
            field="X-Roster-Dry-Run",
        )


def _charge(conn: sqlalchemy.Connection, ws: Workspace, sub: Submission, now: int) -> Budget | None:
    """Charge the request to the workspace's per-minute budgets (``RateLimited`` when one is
    spent); the tightest budget it was charged to."""
    limits = ws.limits
    if limits.unlimited:
        return None
    wanted = (
        (sub.users, limits.users_per_minute, "users"),
        (sub.events, limits.events_per_minute, "events"),
        (sub.merges, limits.merges_per_minute, "merged users"),
    )
    for asked, limit, what in wanted:
        if limit is not None and asked > limit:  # no wait would ever let it through
            raise TooManyElements(
                f"this request holds {asked} {what}, more than the workspace's limit of "
                f"{limit} {what} per minute: split it into smaller requests",
                field="elements",
            )
    window = now - now % WINDOW_MS
    used_now = ratelimit.charge(conn, ws.id, window, sub.users, sub.events, sub.merges)
    for (asked, limit, what), used in zip(wanted, used_now, strict=True):
        if limit is not None and used > limit:
            reset = window + WINDOW_MS
            raise RateLimited(
                f"workspace is over its limit of {limit} {what} per minute",
                limit=limit,
                remaining=max(0, limit - (used - asked)),
                reset_at=reset // 1000,
                retry_after=max(1, -(-(reset - now) // 1000)),
            )
    left = [
        Budget(limit, limit - used, (window + WINDOW_MS) // 1000)
        for (asked, limit, _), used in zip(wanted, used_now, strict=True)
        if limit is not None and asked
    ]
    return min(left, key=lambda b: b.remaining, default=None)
