"""Running worker loops (in threads, or as child processes of ``roster serve``) and stopping
them cleanly on SIGTERM / SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Protocol

import structlog

from roster.bootstrap import Container, worker_database
from roster.gc_pause import freeze_startup_objects
from roster.services.worker.loop import Worker

log = structlog.get_logger("roster.serve")
WATCH_SECONDS = 1.0
RESTART_DELAY_MAX_SECONDS = 30.0
#: Beyond the grace period a child has for its batch in hand: its own shutdown and exit.
EXIT_MARGIN_SECONDS = 5.0


class WorkerPool:
    """``n`` worker loops in threads of this process, sharing one stop flag."""

    def __init__(self, container: Container, n: int) -> None:
        self.stop_flag = threading.Event()
        self.db = worker_database(container)
        self.threads = [
            threading.Thread(
                target=Worker(self.db, container.settings).run,
                args=(self.stop_flag,),
                name=f"roster-worker-{i}",
                daemon=True,
            )
            for i in range(n)
        ]
        self.grace = container.settings.shutdown_grace_seconds

    def start(self) -> None:
        freeze_startup_objects()  # imports, settings, the app: never garbage, never walked again
        for t in self.threads:
            t.start()

    def request_stop(self) -> None:
        """Ask every loop to stop after the batch in hand (from a signal handler)."""
        self.stop_flag.set()

    def stop(self) -> None:
        """Ask every loop to stop after the batch in hand, and wait up to the grace period."""
        self.stop_flag.set()
        deadline = time.monotonic() + self.grace
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self.db.is_sqlite:
            self.db.dispose()


class WorkerProcesses:
    """``n`` ``roster worker`` child processes of ``roster serve``, kept running.

    A worker loop is CPU-bound Python: in a thread of the API process it would share that
    process's interpreter lock with the API; as a process it has a core of its own. A child
    that exits is started again (after 1 s, doubling while it keeps dying, up to 30 s). A child
    stops by itself, after the batch in hand, once its parent is gone (``--parent-pid``): a
    ``serve`` killed with SIGKILL leaves no worker behind for long.
    """

    def __init__(
        self,
        n: int,
        grace: float,
        shutting_down: Callable[[], bool],
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.n = n
        #: The children's environment (``None``: this process's), e.g. where they count metrics.
        self.env = env
        #: What each child runs (a test may give another command).
        self.command = list(command or _worker_command())
        self.grace = grace
        #: ``serve`` is on its way out (uvicorn shutting down): a child that exits now is not
        #: replaced.
        self._shutting_down = shutting_down
        self.children: list[subprocess.Popen[bytes]] = []
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="roster-watch", daemon=True)

    def start(self) -> None:
        if self.n == 0:
            return
        self.children = [self._spawn() for _ in range(self.n)]
        self._watcher.start()

    def request_stop(self) -> None:
        """From a signal handler: no more restarts; a second request kills the children now."""
        if self._stopping.is_set():
            for child in self.children:
                if child.poll() is None:
                    child.kill()
        self._stopping.set()

    def stop(self) -> None:
        """SIGTERM every child (each finishes its batch in hand), wait up to the grace period
        (and a margin for the child's own exit), then kill whatever is left."""
        self._stopping.set()
        if self._watcher.is_alive():
            self._watcher.join()
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace + EXIT_MARGIN_SECONDS
        for child in self.children:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker.killed_after_grace", pid=child.pid)
                child.kill()
                child.wait()

    def _spawn(self) -> subprocess.Popen[bytes]:
        # A process group of its own: a terminal's Ctrl-C reaches only `serve`, which then
        # stops the children in order (SIGTERM, grace period) instead of racing them.
        child = subprocess.Popen(self.command, process_group=0, env=self.env)
        log.info("worker.spawned", pid=child.pid)
        return child

    def _watch(self) -> None:
        started = [time.monotonic()] * self.n
        delays = [0.0] * self.n
        due: list[float | None] = [None] * self.n
        while not self._stopping.wait(WATCH_SECONDS):
            for slot, child in enumerate(self.children):
                code = child.poll()
                if code is None or self._shutting_down():
                    continue
                now = time.monotonic()
                at = due[slot]
                if at is None:  # just noticed: wait, then start a new one
                    kept_dying = now - started[slot] < 2 * RESTART_DELAY_MAX_SECONDS
                    doubled = min(RESTART_DELAY_MAX_SECONDS, 2 * delays[slot])
                    delays[slot] = max(1.0, doubled) if kept_dying else 1.0
                    due[slot] = now + delays[slot]
                    log.error("worker.exited", pid=child.pid, code=code, restart_in=delays[slot])
                elif now >= at:
                    due[slot] = None
                    started[slot] = now
                    self.children[slot] = self._spawn()


def run_until_stopped(pool: WorkerPool, parent_pid: int | None) -> None:
    """Run the pool until SIGTERM or SIGINT, or until the process ``parent_pid`` (the
    ``roster serve`` that started this one) is gone; the batches in hand are finished."""
    stop_on_signals(pool)
    pool.start()
    while not pool.stop_flag.wait(0.5):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("worker.parent_gone", parent_pid=parent_pid)
            break
    pool.stop()


def _worker_command() -> list[str]:
    worker = [sys.executable, "-m", "roster", "worker", "--concurrency", "1"]
    return [*worker, "--parent-pid", str(os.getpid())]


class _Exits(Protocol):
    should_exit: bool


def stop_on_signals(workers: WorkerPool | WorkerProcesses, server: _Exits | None = None) -> None:
    """On SIGTERM and SIGINT, ask the workers to stop after the batch in hand (a second signal
    kills worker processes at once) and, in ``roster serve``, set the server's exit flag.

    uvicorn handles both signals itself while it runs, then restores these handlers and raises
    the signal again; so in ``serve`` these cover the start (a signal then stops the server as
    soon as it is up) and the stop, and the process goes on to stop its workers and exit 0
    instead of dying in the middle."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if server is not None:
            server.should_exit = True
        workers.request_stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
