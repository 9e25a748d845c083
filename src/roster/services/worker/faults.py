"""Named crash points for the process tests (``ROSTER_FAULT_POINT``): never set in production."""

from __future__ import annotations

import os
import signal


def crash_if(fault_point: str | None, name: str) -> None:
    """Kill this process with SIGKILL when ``fault_point`` names this point."""
    if fault_point == name:
        os.kill(os.getpid(), signal.SIGKILL)
