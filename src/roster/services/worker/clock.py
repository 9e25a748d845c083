"""The worker's clock: milliseconds since the epoch, as every stored time is."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
