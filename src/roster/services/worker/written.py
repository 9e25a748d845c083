"""What a worker reports of a group it wrote: its ledgers, and the ``batch.applied`` events."""

from __future__ import annotations

from typing import NamedTuple

import structlog

from roster.domain.batches import Claimed
from roster.domain.outcomes import Ledger

log = structlog.get_logger("roster.worker")


class Written(NamedTuple):
    """A group written: each batch's ledger, and whether it was decided again in the write
    transaction (the workspace's settings changed after it was decided)."""

    ledgers: list[Ledger]
    decided_again: bool


def log_applied(batch: Claimed, ledger: Ledger, **extra: object) -> None:
    """``batch.applied``: the one event of a batch applied, with its counts."""
    log.info(
        "batch.applied",
        batch_id=batch.id,
        workspace_id=batch.workspace_id,
        kind=batch.kind,
        applied=ledger.applied,
        skipped=ledger.skipped,
        failed=ledger.failed,
        **extra,
    )
