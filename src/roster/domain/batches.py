"""Batches: the unit of work a write becomes, its status, and a batch in a worker's hands.

A batch's *kind* (which planner applies it, whether it groups or is cut in chunks) is a row of
the table of kinds in ``services.apply.kinds``; its name is stored with the batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from roster.domain.errors import InvalidParameter


class Status(StrEnum):
    """Where a batch is in its life: queued until a worker claims it, processing while a worker
    holds it, then done (applied, with its ledger) or failed (given up after its attempts, with
    the last error kept). A dry run's batches are held until the run is decided."""

    QUEUED = "queued"
    PROCESSING = "processing"
    #: A dry run's batch, stored apart from the queue until its run is decided.
    HELD = "held"
    DONE = "done"
    FAILED = "failed"


#: A batch still to be applied; a workspace's later batches wait behind it.
UNFINISHED = (Status.QUEUED, Status.PROCESSING)


#: A run's name (``X-Roster-Run``): 1-100 letters, digits and ``. _ : -``, starting with a
#: letter or digit, so it reads the same in a URL path, a file name and a log line.
MAX_RUN_LENGTH = 100
_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
RUN_HEADER = "X-Roster-Run"
DRY_RUN_HEADER = "X-Roster-Dry-Run"
#: A dry run is decided in one transaction, so it is kept to a sample: on SQLite every other
#: workspace's writes wait for it (PostHog's trial runs take 50,000 records too).
MAX_DRY_RUN_ELEMENTS = 50_000


def run_name(value: str, field: str = RUN_HEADER) -> str:
    """A client's run name, checked (``InvalidParameter`` naming ``field`` otherwise)."""
    if len(value) > MAX_RUN_LENGTH or _RUN_NAME.fullmatch(value) is None:
        msg = (
            f"{field} must be 1-{MAX_RUN_LENGTH} letters, digits, '.', '_', ':' or '-', "
            f"starting with a letter or digit; got {value[:120]!r}"
        )
        raise InvalidParameter(msg, field=field)
    return value


@dataclass(frozen=True, slots=True)
class Claimed:
    """A batch a worker holds the lease of ("in hand")."""

    seq: int
    id: str
    workspace_id: str
    kind: str
    payload: bytes
    accepted_at: int
    attempts: int
    #: Failed once in a group of batches: apply it alone next time.
    retry_alone: bool = False
    #: The body's entries as the API read them when it accepted it (a kind's ``prepare``).
    prepared: bytes | None = None
    #: Claimed from another worker whose lease on it expired (that worker died, or hung).
    taken_over: bool = False
    #: Its element count (what the claim charges its workspace's turn, ``domain.fairness``).
    elements: int = 0
