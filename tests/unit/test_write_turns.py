"""Write turns: the threads of one process reach SQLite's write lock in arrival order."""

from __future__ import annotations

import threading
import time

from roster.store.write_turns import WriteTurns


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
