"""Roster's own processes for the end-to-end stage: started, watched and stopped by pid."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(slots=True)
class Proc:
    """One ``roster`` process and the file its output goes to."""

    role: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True, slots=True)
class Tenant:
    """The workspace the benchmark posts to."""

    id: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.id}:{self.key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def key_auth(self) -> dict[str, str]:
        """Customer.io Data Pipelines' form: ``Basic base64(api_key:)`` (blank password)."""
        token = base64.b64encode(f"{self.key}:".encode()).decode()
        return {"Authorization": f"Basic {token}"}


def roster_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "roster", *args]


def environment(database_url: str, **settings: str) -> dict[str, str]:
    """This process's environment without any ``ROSTER_*`` setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
    env["ROSTER_DATABASE_URL"] = database_url
    env.update({f"ROSTER_{k.upper()}": v for k, v in settings.items()})
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(role: str, args: list[str], env: dict[str, str], logdir: Path) -> Proc:
    """Start ``roster ARGS`` in its own session, its output going to ``logdir/role.log``."""
    log = logdir / f"{role}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            roster_command(*args),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(role, popen, log)


def wait_healthy(proc: Proc, base_url: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
    """Wait until ``GET /healthz`` answers 200; fail at once if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(
                f"{proc.role} exited with {proc.popen.returncode}:\n{proc.log_tail()}"
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{proc.role} not healthy within {timeout}s:\n{proc.log_tail()}")


def create_workspace(env: dict[str, str], name: str = "bench") -> Tenant:
    """``roster workspace create NAME --json`` against the same database."""
    done = subprocess.run(
        roster_command("workspace", "create", name, "--json"),
        env=env,
        capture_output=True,
        timeout=STARTUP_TIMEOUT_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(f"workspace create failed: {done.stderr.decode(errors='replace')}")
    data = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return Tenant(data["workspace_id"], data["api_key"])


def memory_mb(pid: int) -> dict[str, float]:
    """Peak (``VmHWM``) and current (``VmRSS``) resident memory of a live process, in MB, and
    the CPU time it has used so far (``cpu_s``, user and system)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found["peak_rss_mb" if key == "VmHWM" else "rss_mb"] = int(value.split()[0]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    found["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return {k: round(v, 1) for k, v in found.items()}


def children_of(pid: int) -> list[int]:
    """The pids of a process's live children (``roster serve`` starts its workers so)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # exited meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def memory_of(role: str, pid: int) -> dict[str, dict[str, float]]:
    """``memory_mb`` of a process and of each of its children (``ROLE/worker-N``)."""
    found = {role: memory_mb(pid)}
    for n, child in enumerate(children_of(pid), start=1):
        try:
            found[f"{role}/worker-{n}"] = memory_mb(child)
        except OSError:
            continue
    return found


def memory_of_live(procs: list[Proc]) -> dict[str, dict[str, float]]:
    """``memory_of`` every process that is still running, and of its children."""
    return {
        k: v for p in procs if p.popen.poll() is None for k, v in memory_of(p.role, p.pid).items()
    }


#: Log lines a correct run should not show: structlog's JSON levels, uvicorn's plain-text
#: prefixes, and tracebacks.
LOG_ALARMS = ('"level": "warning"', '"level": "error"', '"level": "critical"', "Traceback")
LOG_PREFIXES = ("WARNING:", "ERROR:", "CRITICAL:")


def log_issues(procs: list[Proc], kept: int = 5) -> dict[str, dict[str, Any]]:
    """Per process, the lines of its log at level warning or above (and tracebacks): how many,
    and the first few (cut to 300 characters), so a rep's result says what its server said."""
    found: dict[str, dict[str, Any]] = {}
    for proc in procs:
        text = proc.log.read_text(errors="replace") if proc.log.exists() else ""
        lines = [
            line
            for line in text.splitlines()
            if line.startswith(LOG_PREFIXES) or any(alarm in line for alarm in LOG_ALARMS)
        ]
        found[proc.role] = {"lines": len(lines), "first": [line[:300] for line in lines[:kept]]}
    return found


def stop(proc: Proc, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """SIGTERM the process (by its pid), wait, and SIGKILL it if it does not exit in time."""
    if proc.popen.poll() is None:
        proc.popen.terminate()
        try:
            proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            proc.popen.wait(timeout)
    return proc.popen.returncode
