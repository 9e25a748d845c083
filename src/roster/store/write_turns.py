"""Fair turns at SQLite's single write lock, among threads and among processes.

SQLite's own busy handler makes a waiting writer sleep and retry (up to 100 ms between tries),
so a writer that commits and at once begins its next write transaction keeps winning, and the
others queue behind it for seconds. Roster's writers take turns before ``BEGIN IMMEDIATE``:

- the threads of one process take a ticket and are woken in order the moment the previous
  writer is done;
- the thread whose turn it is then takes the process's turn at a lock file beside the
  database (``<file>-turns``), with two POSIX record locks used as a turnstile: a writer first
  takes the gate (byte 0), then the write lock (byte 1), then lets go of the gate. A writer
  waiting for the write lock holds the gate, so the one that just let go of the write lock
  cannot take it again before the waiter has had its turn. The kernel wakes a waiter the
  moment a lock is released: nobody sleeps and polls.

A process that does not take turns (a ``sqlite3`` shell, say) still works: SQLite's busy
timeout covers it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

log = structlog.get_logger("roster.store")
_GATE, _WRITE = 0, 1


class WriteTurns:
    def __init__(self, lock_path: str | None = None) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._local = threading.local()
        self._lock_path = lock_path
        self._fd: int | None = None
        self._fd_pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this thread's turn, then this process's; re-entrant within one thread."""
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
            fd = self._process_turn()
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.lockf(fd, fcntl.LOCK_UN, 1, _WRITE)
        finally:
            self._local.holding = False
            with self._cond:
                self._serving += 1
                self._cond.notify_all()

    def _process_turn(self) -> int | None:
        """Take the write lock among processes (only the thread whose turn it is gets here)."""
        if self._lock_path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():
            # One descriptor per process, never closed: closing any descriptor of the file
            # would drop every record lock this process holds on it.
            try:
                self._fd = _open_beside_database(self._lock_path)
            except PermissionError as exc:  # another user's file: SQLite's busy timeout only
                log.warning("sqlite.turns_unavailable", path=self._lock_path, error=str(exc))
                self._lock_path = None
                return None
            self._fd_pid = os.getpid()
        fd = self._fd
        fcntl.lockf(fd, fcntl.LOCK_EX, 1, _GATE)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, _WRITE)
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, _GATE)
        return fd


def _open_beside_database(lock_path: str) -> int:
    """Open (or create) the lock file with the database file's permissions and, when run as
    root, its owner, as SQLite does for ``-wal`` and ``-shm``: a ``sudo roster workspace ...``
    must not leave a file that the service's own user cannot open."""
    database = lock_path.removesuffix("-turns")
    try:
        stat = os.stat(database)
    except FileNotFoundError:
        stat = None
    mode = stat.st_mode & 0o666 if stat else 0o644
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, mode)
    if stat and os.geteuid() == 0 and os.fstat(fd).st_uid != stat.st_uid:
        os.fchown(fd, stat.st_uid, stat.st_gid)
    return fd


_registry: dict[str, WriteTurns] = {}
_registry_lock = threading.Lock()


def turns_for(database: str) -> WriteTurns:
    """The turns of one database file, shared by every engine of this process that opens it.

    An in-memory database (no file) has only the turns among this process's threads."""
    in_memory = (
        database in ("", ":memory:")
        or "mode=memory" in database
        or database.startswith("file::memory:")
    )
    key = database if in_memory else os.path.realpath(database)  # one file, one entry
    with _registry_lock:
        if key not in _registry:
            _registry[key] = WriteTurns(None if in_memory else key + "-turns")
        return _registry[key]
