"""First come, first served turns at SQLite's single write lock, among one process's threads.

SQLite's own busy handler makes a waiting writer sleep and retry (up to 100 ms between tries),
so in ``roster serve`` a worker that commits and at once begins its next write transaction
keeps winning, and API requests queue behind it for seconds. Threads of one process instead
take a ticket and are woken in order the moment the previous writer is done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class WriteTurns:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._local = threading.local()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn; re-entrant within one thread."""
        if getattr(self._local, "holding", False):
            yield
            return
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._cond.wait()
        self._local.holding = True
        try:
            yield
        finally:
            self._local.holding = False
            with self._cond:
                self._serving += 1
                self._cond.notify_all()


_registry: dict[str, WriteTurns] = {}
_registry_lock = threading.Lock()


def turns_for(database: str) -> WriteTurns:
    """The turns of one database file, shared by every engine of this process that opens it."""
    with _registry_lock:
        return _registry.setdefault(database, WriteTurns())
