"""The machine and software a run measured on, recorded in the results."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

LIBRARIES = (
    "roster",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "psycopg-binary",
    "msgspec",
    "pydantic",
    "structlog",
    "httpx",
)


def nproc() -> int:
    return len(os.sched_getaffinity(0))


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def _mem_total_mb() -> int | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return None


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def fsync_latency_ms(workdir: Path, seconds: float = 1.0) -> float:
    """Mean latency of ``os.fsync`` after a 4 KB write, over about ``seconds``."""
    path = workdir / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    count = 0
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
            count += 1
    finally:
        os.close(fd)
        path.unlink()
    return round((time.perf_counter() - started) / count * 1000, 3)


def describe(workdir: Path) -> dict[str, Any]:
    """Everything about the machine that does not change during the run."""
    return {
        "nproc": nproc(),
        "cpu_model": _cpu_model(),
        "mem_total_mb": _mem_total_mb(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "sqlite_version": sqlite3.sqlite_version,
        "libraries": _versions(),
        "fsync_latency_ms": fsync_latency_ms(workdir),
        "workdir": str(workdir),
    }
