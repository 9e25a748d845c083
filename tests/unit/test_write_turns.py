"""Write turns: the threads of one process reach SQLite's write lock in arrival order, and
processes sharing a database file take turns too."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from roster.store.write_turns import WriteTurns, turns_for


def _wait_for_tickets(turns: WriteTurns, n: int) -> None:
    deadline = time.monotonic() + 5
    while turns._next_ticket < n and time.monotonic() < deadline:
        time.sleep(0.001)
    assert turns._next_ticket >= n


def test_waiting_threads_get_their_turn_in_arrival_order() -> None:
    """A thread that keeps writing cannot overtake threads already waiting for their turn."""
    turns = WriteTurns()
    order: list[str] = []
    first_in = threading.Event()

    def hog() -> None:
        with turns.turn():
            first_in.set()
            _wait_for_tickets(turns, 4)  # the three others are in line
            order.append("hog-1")
        with turns.turn():  # straight back in line: behind the waiting threads
            order.append("hog-2")

    def waiter(name: str) -> None:
        with turns.turn():
            order.append(name)

    hogger = threading.Thread(target=hog)
    hogger.start()
    assert first_in.wait(5)
    waiters = [threading.Thread(target=waiter, args=(f"w{i}",)) for i in range(3)]
    for n, w in enumerate(waiters, start=2):
        w.start()
        _wait_for_tickets(turns, n)  # arrive in a known order
    for t in [hogger, *waiters]:
        t.join(5)
    assert order == ["hog-1", "w0", "w1", "w2", "hog-2"]


def test_a_turn_is_reentrant_within_one_thread() -> None:
    """A thread already holding a turn can nest another without waiting on itself."""
    turns = WriteTurns()
    with turns.turn(), turns.turn():
        pass
    with turns.turn():  # and the next turn is still served
        pass


_HOG = """
import sys, time
from pathlib import Path
from roster.store.write_turns import WriteTurns

turns, log = WriteTurns(sys.argv[1]), Path(sys.argv[2])
for n in range(1, 201):  # bounded: at most 200 turns of 10 ms, straight back in line each time
    with turns.turn():
        if Path(sys.argv[3]).exists():  # the other process has had its turn
            break
        with log.open("a") as f:
            f.write(f"hog {n}\\n")
        time.sleep(0.01)
"""


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_processes_take_turns_and_one_that_keeps_writing_cannot_starve_another(
    tmp_path: Path,
) -> None:
    """Two processes on one database file: while one holds its turn the other waits (no hog
    turn happens during ours), and while the hog takes turn after turn, the other, once it
    asks, gets the next turn: it waits at the gate, it does not race the hog for each turn.
    (On an idle machine the kernel often wakes the waiter first even without the gate; the
    next test checks the gate itself.)"""
    lock, log, done = tmp_path / "db-turns", tmp_path / "log", tmp_path / "done"
    hog = subprocess.Popen([sys.executable, "-c", _HOG, str(lock), str(log), str(done)])
    try:
        deadline = time.monotonic() + 10
        while len(_lines(log)) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        asked_after = len(_lines(log))
        assert asked_after >= 3, "the hog never got going"
        with WriteTurns(str(lock)).turn():
            got_after = len(_lines(log))
            time.sleep(0.1)  # ten hog turns' worth: none may happen while this turn is held
            still = len(_lines(log))
            done.touch()
        assert hog.wait(10) == 0
    finally:
        hog.kill()
    assert still == got_after
    # the hog was in (or entering) turn `asked_after` or `asked_after + 1` when we asked
    assert got_after <= asked_after + 2
    assert len(_lines(log)) < 200


_TAKE_A_TURN = """
import sys, time
from pathlib import Path
from roster.store.write_turns import WriteTurns

with WriteTurns(sys.argv[1]).turn():
    Path(sys.argv[2]).touch()
    time.sleep(float(sys.argv[3]))
"""


def test_a_process_killed_in_its_turn_leaves_the_lock_free(tmp_path: Path) -> None:
    """The kernel drops a dead process's record locks: a writer SIGKILLed in the middle of its
    turn does not leave the others waiting forever."""
    lock, holding, took = tmp_path / "db-turns", tmp_path / "holding", tmp_path / "took"
    script = [sys.executable, "-c", _TAKE_A_TURN, str(lock)]
    holder = subprocess.Popen([*script, str(holding), "60"])  # killed long before 60 s
    try:
        deadline = time.monotonic() + 10
        while not holding.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert holding.exists(), "the holder never took its turn"
        holder.kill()
        assert holder.wait(10) == -signal.SIGKILL
        # in a process of its own, so that a lock left behind ends at the timeout, not a hang
        waiter = subprocess.run([*script, str(took), "0"], timeout=20, check=False)
    finally:
        holder.kill()
    assert waiter.returncode == 0
    assert took.exists()


def _gate_is_held(lock: Path) -> bool:
    """Whether another process holds the gate (byte 0 of the lock file) right now."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the probe's lock, if it got one
    return False


def test_a_process_waiting_for_its_turn_holds_the_gate(tmp_path: Path) -> None:
    """While one process writes, the one waiting for the write lock holds the gate, so that
    the writer, done, cannot take its next turn before the waiter has had this one."""
    lock, holding, took = tmp_path / "db-turns", tmp_path / "holding", tmp_path / "took"
    script = [sys.executable, "-c", _TAKE_A_TURN, str(lock)]
    holder = subprocess.Popen([*script, str(holding), "3"])
    waiter = None
    try:
        deadline = time.monotonic() + 10
        while not holding.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert holding.exists(), "the holder never took its turn"
        assert not _gate_is_held(lock)  # the writer let go of the gate once it had the lock
        waiter = subprocess.Popen([*script, str(took), "0"])
        deadline = time.monotonic() + 2.5  # within the holder's 3 s turn
        gated = False
        while not gated and time.monotonic() < deadline:
            gated = _gate_is_held(lock)
            time.sleep(0.01)
        assert holder.wait(10) == 0
        assert waiter.wait(10) == 0
    finally:
        holder.kill()
        if waiter is not None:
            waiter.kill()
    assert gated, "the waiting process did not hold the gate"
    assert took.exists()


def test_every_engine_of_a_file_shares_one_lock_file_and_memory_has_none(
    tmp_path: Path,
) -> None:
    """Turns are per database file (beside it, ``-turns``); an in-memory database has no file."""
    db = str(tmp_path / "roster.db")
    assert turns_for(db) is turns_for(db)
    (tmp_path / "sub").mkdir()
    assert turns_for(str(tmp_path / "sub" / ".." / "roster.db")) is turns_for(db)  # same file
    assert turns_for(db)._lock_path == db + "-turns"
    assert turns_for(":memory:")._lock_path is None
