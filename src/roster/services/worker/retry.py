"""After a failed attempt: the retry policy, and what it does to the batches in hand.

The policy is a pure function of the attempt count and the settings (``retry_delay``): retry
with exponential backoff, ``retry_base_seconds * 2 ** (attempts - 1)`` capped at
``retry_max_seconds``, until ``max_attempts`` attempts were made; then the batch is ``failed``
with its last error kept. A batch whose worker died is taken over when its lease expires, and
that counts as an attempt too (``given_up``).
"""

from __future__ import annotations

import traceback

import structlog

from roster.domain.batches import Claimed
from roster.services.worker.clock import now_ms
from roster.settings import Settings
from roster.store import batches
from roster.store.database import Database

log = structlog.get_logger("roster.worker")


def retry_delay(attempts: int, settings: Settings) -> float | None:
    """Seconds to wait before the next attempt, after ``attempts`` attempts failed; ``None``
    once ``max_attempts`` were made (the batch is given up)."""
    if attempts >= settings.max_attempts:
        return None
    return min(settings.retry_max_seconds, settings.retry_base_seconds * 2.0 ** (attempts - 1))


def given_up(attempts: int, settings: Settings) -> bool:
    """A batch claimed for attempt ``attempts`` after ``max_attempts`` attempts that never
    finished (each worker died holding it) is not tried again."""
    return attempts > settings.max_attempts


def after_error(
    db: Database, owner: str, group: list[Claimed], exc: Exception, settings: Settings
) -> None:
    """After an apply raised. Alone, the batch counts the attempt and waits for its retry
    (or is failed after ``max_attempts``). In a group, nobody is charged: every batch goes
    back to the queue, and the first is marked to be retried alone, so the culprit is found
    one batch at a time and an innocent batch is never failed for another's fault."""
    head = group[0]
    error = f"{type(exc).__name__}: {exc}"[:2000]
    log.error(
        "batch.error",
        batch_id=head.id,
        group=len(group),
        attempt=head.attempts,
        error=error,
        trace=traceback.format_exc(limit=5),
    )
    with db.write() as conn:
        if len(group) > 1:
            batches.release(conn, [b.id for b in group], owner)
            batches.mark_retry_alone(conn, head.id, f"failed in a group of {len(group)}: {error}")
            return
        delay = retry_delay(head.attempts, settings)
        if delay is None:
            batches.give_up_or_retry(conn, head.id, owner, error, now_ms(), None)
            log.error("batch.failed", batch_id=head.id, attempts=head.attempts, error=error)
            return
        retry_at = now_ms() + int(delay * 1000)
        batches.give_up_or_retry(conn, head.id, owner, error, now_ms(), retry_at)


def give_up(db: Database, owner: str, batch: Claimed, error: str) -> None:
    """Mark ``batch`` failed for good, with ``error``."""
    with db.write() as conn:
        batches.give_up_or_retry(conn, batch.id, owner, error, now_ms(), None)
    log.error("batch.failed", batch_id=batch.id, attempts=batch.attempts, error=error)
