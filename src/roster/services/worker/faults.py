"""Named crash points for the process tests (``ROSTER_FAULT_POINT``): never set in production."""

from __future__ import annotations

import os
import signal
import time


def crash_if(fault_point: str | None, name: str) -> None:
    """Kill this process with SIGKILL when ``fault_point`` names this point."""
    if fault_point == name:
        os.kill(os.getpid(), signal.SIGKILL)


def stall_if(fault_point: str | None, name: str, seconds: float) -> None:
    """Keep this thread busy for ``seconds`` when ``fault_point`` names this point (a live but
    slow worker, whose heartbeat must keep its leases)."""
    if fault_point == name:
        time.sleep(seconds)
