"""Running worker loops in threads and stopping them cleanly on SIGTERM / SIGINT."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

from roster.bootstrap import Container, worker_database
from roster.services.gc_pause import freeze_startup_objects
from roster.services.worker import Worker


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

    def stop(self) -> None:
        """Ask every loop to stop after the batch in hand, and wait up to the grace period."""
        self.stop_flag.set()
        deadline = time.monotonic() + self.grace
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self.db.is_sqlite:
            self.db.dispose()


def stop_on_signals(pool: WorkerPool) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        pool.stop_flag.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
