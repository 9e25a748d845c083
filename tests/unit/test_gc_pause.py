"""The collector pause nests across threads and restores the collector's state."""

from __future__ import annotations

import gc
import threading

from roster.gc_pause import collector_paused


def test_the_collector_resumes_only_when_the_last_pause_ends() -> None:
    """Two overlapping pauses (as two worker threads make): on until both are over."""
    assert gc.isenabled()
    first_in, second_out = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with collector_paused():
            first_in.wait(5)
        second_out.set()

    with collector_paused():
        thread = threading.Thread(target=other)
        thread.start()
        first_in.set()
        second_out.wait(5)
        seen.append(gc.isenabled())  # the other pause ended, this one has not
    thread.join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_a_pause_leaves_a_disabled_collector_disabled() -> None:
    """If the collector was off before, it stays off after."""
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_resumes_after_an_exception() -> None:
    """An apply that raises still resumes the collector."""
    try:
        with collector_paused():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.isenabled()
