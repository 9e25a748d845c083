"""`roster serve --worker-processes` keeps its children running, except while it stops."""

from __future__ import annotations

import sys
import time

from roster.cli.runtime import WATCH_SECONDS, WorkerProcesses

EXITS_AT_ONCE = [sys.executable, "-c", "pass"]


def _spawned_within(children: WorkerProcesses, seconds: float) -> set[int]:
    seen: set[int] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded
        seen.update(c.pid for c in children.children)
        time.sleep(0.05)
    return seen


def _children_of_one_slot(shutting_down: bool) -> set[int]:
    """The pids one slot has had in about three watch rounds, its child exiting at once."""
    children = WorkerProcesses(1, 1.0, shutting_down=lambda: shutting_down, command=EXITS_AT_ONCE)
    children.start()
    try:
        return _spawned_within(children, 3 * WATCH_SECONDS + 1.5)
    finally:
        children.stop()


def test_a_child_that_exits_is_replaced() -> None:
    assert len(_children_of_one_slot(shutting_down=False)) >= 2


def test_no_child_is_replaced_while_serve_is_shutting_down() -> None:
    """A child that exits while uvicorn shuts down (a service manager stopping the whole group)
    is not replaced by a new one that would claim batches on the way out."""
    assert len(_children_of_one_slot(shutting_down=True)) == 1


def test_a_second_stop_request_kills_the_children() -> None:
    """The first SIGTERM/SIGINT only stops restarts; a second one kills the children at once."""
    sleeps = [sys.executable, "-c", "import time; time.sleep(60)"]
    children = WorkerProcesses(1, 1.0, shutting_down=lambda: False, command=sleeps)
    children.start()
    try:
        children.request_stop()
        assert children.children[0].poll() is None
        children.request_stop()
        assert children.children[0].wait(10) < 0  # killed by a signal
    finally:
        children.stop()
