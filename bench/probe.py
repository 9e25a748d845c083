"""Read-only queries on the store under test: progress of the queue and what was stored."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from roster.store.database import normalise_url

POLL_S = 0.1

_PROGRESS = sa.text(
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status IN ('queued', 'processing') "
    "THEN 1 ELSE 0 END), 0) FROM batches WHERE workspace_id = :ws"
)
_LEDGER = sa.text(
    "SELECT status, COUNT(*), SUM(element_count), SUM(applied), SUM(skipped), SUM(failed), "
    "MIN(accepted_at), MAX(finished_at) FROM batches WHERE workspace_id = :ws GROUP BY status"
)
_ISSUES = sa.text(
    "SELECT i.severity, i.code, COUNT(*) FROM batch_issues i JOIN batches b ON b.id = i.batch_id "
    "WHERE b.workspace_id = :ws GROUP BY i.severity, i.code"
)
_COUNTS = {
    table: sa.text(f"SELECT COUNT(*) FROM {table} WHERE workspace_id = :ws")
    for table in ("events", "customers", "devices", "wallets", "wallet_transactions")
}


class Probe:
    """A small read-only connection pool on the store of one end-to-end rep."""

    def __init__(self, url: str, workspace_id: str) -> None:
        self.engine = sa.create_engine(normalise_url(url), poolclass=sa.NullPool)
        self.ws = workspace_id

    def close(self) -> None:
        self.engine.dispose()

    def _rows(self, query: sa.TextClause) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(query, {"ws": self.ws}))

    def progress(self) -> tuple[int, int]:
        """``(batches, unfinished batches)`` of the workspace."""
        total, unfinished = self._rows(_PROGRESS)[0]
        return int(total), int(unfinished)

    def wait_drained(self, batches: int, cap_s: float) -> bool:
        """Wait until ``batches`` exist and none is queued or processing; ``False`` at the cap."""
        deadline = time.monotonic() + cap_s
        while time.monotonic() < deadline:
            total, unfinished = self.progress()
            if total >= batches and unfinished == 0:
                return True
            time.sleep(POLL_S)
        return False

    def ledger(self) -> dict[str, dict[str, int]]:
        """Per status: batches, elements, applied, skipped, failed, first accept, last finish."""
        names = ("batches", "elements", "applied", "skipped", "failed", "accepted_min", "done_max")
        return {
            row[0]: {n: int(v) if v is not None else 0 for n, v in zip(names, row[1:], strict=True)}
            for row in self._rows(_LEDGER)
        }

    def issues(self) -> dict[str, int]:
        return {f"{sev}:{code}": int(n) for sev, code, n in self._rows(_ISSUES)}

    def counts(self) -> dict[str, int]:
        return {table: int(self._rows(query)[0][0]) for table, query in _COUNTS.items()}
