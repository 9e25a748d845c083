"""Campaign eligibility of stored events (Customer.io's backfill rules)."""

from __future__ import annotations

TRIGGER_WINDOW_MS = 72 * 3600 * 1000
ACTIVITY_WINDOW_MS = 30 * 24 * 3600 * 1000


def can_trigger(occurred_ms: int, received_ms: int, *, migrated: bool) -> bool:
    """An event may trigger campaigns only if it happened at most 72 h before it was received
    and was not migrated."""
    return not migrated and received_ms - occurred_ms <= TRIGGER_WINDOW_MS
