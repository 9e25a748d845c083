"""Real ``roster`` processes for the process tests: start, kill, restart, read their logs.

Every process runs in its own session (``start_new_session=True``) so the whole group can be
killed; every wait is bounded; the only address used is 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from roster.store.database import Database
from roster_testkit import Tenant

HOST = "127.0.0.1"

#: Short timings for every process (RELIABILITY-PLAN C0), plus a small connection pool.
FAST_ENV = {
    "ROSTER_LEASE_SECONDS": "2",
    "ROSTER_HEARTBEAT_SECONDS": "0.5",
    "ROSTER_POLL_SECONDS": "0.05",
    "ROSTER_RETRY_BASE_SECONDS": "0.05",
    "ROSTER_RETRY_MAX_SECONDS": "0.2",
    "ROSTER_SHUTDOWN_GRACE_SECONDS": "5",
    "ROSTER_DB_POOL_SIZE": "3",
    "ROSTER_LOG_LEVEL": "info",
    "ROSTER_LOG_JSON": "true",
    "PYTHONUNBUFFERED": "1",
}
START_TIMEOUT = 30.0


def free_port() -> int:
    """An ephemeral port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.05) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """One ``roster`` command run as a process; each (re)start is a new incarnation."""

    def __init__(self, cluster: Cluster, name: str, args: list[str], env: dict[str, str]):
        self.cluster = cluster
        self.name = name
        self.args = args
        self.env = env
        self.popen: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.incarnation = 0
        self.logs: list[Path] = []

    @property
    def is_api(self) -> bool:
        return self.args[0] == "serve"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def base_url(self) -> str:
        assert self.port is not None
        scheme = "https" if self.env.get("ROSTER_TLS_CERT") else "http"
        return f"{scheme}://{HOST}:{self.port}"

    def start(self, *, same_port: bool = False, **env: str | None) -> Proc:
        """Start a new incarnation (not waiting for it); ``env`` changes this process's env. An
        API restarted with ``same_port`` listens where its clients already point."""
        assert not self.alive, f"{self.name} is still running"
        for key, value in env.items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        self.incarnation += 1
        args = list(self.args)
        if self.is_api:
            if not (same_port and self.port is not None):
                self.port = free_port()
            args += ["--port", str(self.port)]
        log = self.cluster.dir / f"{self.name}.{self.incarnation}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "roster", *args],
                env=self.env,
                cwd=self.cluster.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def ready(self, timeout: float = START_TIMEOUT) -> Proc:
        """Wait until the API answers ``GET /healthz`` 200, or the worker logs it started."""
        deadline = time.monotonic() + timeout
        port_retries = 3
        while time.monotonic() < deadline:
            if not self.alive:
                self.wait(5)
                log = self.logs[-1].read_text(errors="replace").lower()
                if self.is_api and "address already in use" in log and port_retries > 0:
                    port_retries -= 1  # another test took the free port first: pick a new one
                    self.start()
                    continue
                raise AssertionError(f"{self.name} exited with {self.returncode} while starting")
            if self._is_ready():
                return self
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready after {timeout}s")

    def _is_ready(self) -> bool:
        if self.is_api:
            try:
                with httpx.Client(trust_env=False, timeout=2, verify=_trust(self)) as http:
                    return http.get(f"{self.base_url}/healthz").status_code == 200
            except httpx.TransportError:
                return False
        return any(e.get("event") == "worker.started" for e in self.events())

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process group (the process and anything it started)."""
        if self.alive:
            assert self.popen is not None
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def wait(self, timeout: float) -> int:
        """Wait (bounded) for the process to exit and return its exit code."""
        assert self.popen is not None
        return self.popen.wait(timeout)

    def kill(self) -> int:
        """SIGKILL the process group and reap the process."""
        self.signal(signal.SIGKILL)
        return self.wait(10)

    def restart(self, **env: str | None) -> Proc:
        if self.alive:
            self.kill()
        return self.start(**env)

    def events(self, incarnation: int | None = None) -> list[dict[str, Any]]:
        """The JSON log lines of one incarnation (the current one by default)."""
        if not self.logs:
            return []
        path = self.logs[(incarnation or self.incarnation) - 1]
        found = []
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def tail(self, lines: int = 30) -> str:
        parts = []
        for path in self.logs:
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            parts.append(f"--- {path.name} (last {lines} lines) ---")
            parts.extend(text[-lines:])
        return "\n".join(parts)


class Cluster:
    """The processes of one test, sharing one database URL; ``close`` kills them all."""

    def __init__(self, directory: Path, url: str) -> None:
        self.dir = directory
        self.url = url
        self.procs: list[Proc] = []
        base = {k: v for k, v in os.environ.items() if not k.startswith("ROSTER_")}
        self.env = {**base, **FAST_ENV, "ROSTER_DATABASE_URL": url}

    def add(self, name: str, *args: str, **env: str) -> Proc:
        proc = Proc(self, name, list(args), {**self.env, **env})
        self.procs.append(proc)
        return proc

    def api(self, name: str = "api", **env: str) -> Proc:
        """An API process (``roster serve --no-worker``), not yet started."""
        return self.add(name, "serve", "--no-worker", "--host", HOST, **env)

    def worker(self, name: str, **env: str) -> Proc:
        """A worker process (``roster worker``), not yet started."""
        return self.add(name, "worker", **env)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a one-shot ``roster`` command against this cluster's database."""
        return subprocess.run(
            [sys.executable, "-m", "roster", *args],
            env=self.env,
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )

    def close(self) -> None:
        for proc in self.procs:
            if proc.popen is not None:
                proc.signal(signal.SIGKILL)
                for child in spawned_workers(proc):  # they have process groups of their own
                    with suppress(ProcessLookupError):
                        os.kill(child, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(10)

    def tails(self, lines: int = 30) -> str:
        return "\n".join(p.tail(lines) for p in self.procs)


def start_all(*procs: Proc) -> None:
    """Start the processes together, then wait until each is ready."""
    for p in procs:
        p.start()
    for p in procs:
        p.ready()


# --- the wire ---------------------------------------------------------------------------


def client(proc: Proc, timeout: float = 15) -> httpx.Client:
    return httpx.Client(
        base_url=proc.base_url, timeout=timeout, trust_env=False, verify=_trust(proc)
    )


def _trust(proc: Proc) -> ssl.SSLContext | bool:
    """The API's own (self-signed) certificate when it serves HTTPS."""
    cert = proc.env.get("ROSTER_TLS_CERT")
    return ssl.create_default_context(cafile=cert) if cert else True


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with ``openssl`` (as docs/compatibility.md
    shows), for an API serving HTTPS."""
    cert, key = directory / "roster.crt", directory / "roster.key"
    subprocess.run(
        [
            shutil.which("openssl") or "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def transition_body(elements: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "transition", "elements": elements}).encode()


def post_transition(
    http: httpx.Client, tenant: Tenant, elements: list[dict[str, Any]]
) -> httpx.Response:
    return http.post(
        f"/v1/transition/{tenant.id}", content=transition_body(elements), headers=tenant.json_auth
    )


CUSTOMERS_PER_BATCH = 10  # and one event each: 20 elements per batch


def chaos_elements(
    tag: str, batch_no: int, customers: int = CUSTOMERS_PER_BATCH
) -> list[dict[str, Any]]:
    """``customers`` customer elements with attributes and one event each (2x elements)."""
    elements: list[dict[str, Any]] = []
    for i in range(customers):
        elements.append(
            {
                "type": "customer",
                "customer_id": f"{tag}-{batch_no}-{i}",
                "attributes": {"name": f"n{batch_no}.{i}", "batch_no": batch_no, "slot": i},
            }
        )
    for i in range(customers):
        elements.append(
            {
                "type": "event",
                "customer_id": f"{tag}-{batch_no}-{i}",
                "actions": [{"action": "chaos_event", "attributes": {"b": batch_no, "i": i}}],
            }
        )
    return elements


# --- the store, read with plain SQL (identical on both stores) ------------------------------


@contextmanager
def opened(url: str) -> Iterator[Database]:
    db = Database(url, pool_size=2)
    try:
        yield db
    finally:
        db.dispose()


def scalar(db: Database, sql: str, **params: Any) -> Any:
    with db.read() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def rows(db: Database, sql: str, **params: Any) -> list[sa.Row[Any]]:
    with db.read() as conn:
        return list(conn.execute(sa.text(sql), params))


def is_done(db: Database, batch_id: str) -> bool:
    return bool(scalar(db, "SELECT status FROM batches WHERE id = :id", id=batch_id) == "done")


def unfinished(db: Database) -> int:
    return int(scalar(db, "SELECT count(*) FROM batches WHERE status IN ('queued', 'processing')"))


def drain(db: Database, timeout: float = 60) -> None:
    """Wait (bounded) until no batch is queued or processing."""
    wait_for("the queue to drain", lambda: unfinished(db) == 0, timeout, interval=0.1)


def store_of(cluster: Cluster) -> str:
    """``sqlite`` or ``postgres``: the store a cluster runs on, as the figures name it."""
    return "sqlite" if cluster.url.startswith("sqlite") else "postgres"


def spawned_workers(proc: Proc) -> list[int]:
    """The pids of the worker processes a ``roster serve`` started, in every incarnation."""
    return [
        int(e["pid"])
        for n in range(1, proc.incarnation + 1)
        for e in proc.events(n)
        if e.get("event") == "worker.spawned"
    ]


def process_gone(pid: int) -> bool:
    """The process has exited (a zombie waiting to be reaped counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def lease_owner_pid(owner: str | None) -> int | None:
    """The pid in a worker's lease owner name (``host:pid:suffix``)."""
    if not owner:
        return None
    parts = owner.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


class Poster(threading.Thread):
    """Posts to the API in a thread; keeps exceptions instead of letting them escape."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # reported by join_ok in the test's thread
            self.error = exc

    def join_ok(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), f"{self.name} still running after {timeout}s"
        if self.error is not None:
            raise self.error


def check_exactly_once(
    db: Database,
    http: httpx.Client,
    acked: dict[str, tuple[Tenant, int]],
    tag: str,
    customers: int = CUSTOMERS_PER_BATCH,
) -> tuple[int, int]:
    """Assert every acknowledged ``chaos_elements`` batch is done, each element applied once.

    ``acked`` maps batch_id to (tenant, batch_no). Returns ``(lost, dup)``, both 0 here:
    lost counts acknowledged events and customers missing from the store, dup counts events
    stored more than once (or for batches never acknowledged) and duplicated customers.
    """
    not_done = []
    for batch_id, (tenant, _) in acked.items():
        view = http.get(f"/v1/batches/{batch_id}", headers=tenant.auth).json()
        expected = {"total": 2 * customers, "applied": 2 * customers}
        if view.get("status") != "done" or {k: view["counts"][k] for k in expected} != expected:
            not_done.append(view)
    assert not_done == [], f"acknowledged batches not done with every element applied: {not_done}"

    per_batch = Counter(
        {r.batch_id: r.n for r in rows(db, "SELECT batch_id, count(*) AS n FROM events GROUP BY 1")}
    )
    lost_events = sum(max(0, customers - per_batch[b]) for b in acked)
    dup_events = sum(max(0, n - customers) for b, n in per_batch.items() if b in acked)
    strays = sum(n for b, n in per_batch.items() if b not in acked)

    expected_customers = {
        f"{tag}-{no}-{i}": no for _, no in acked.values() for i in range(customers)
    }
    stored = rows(db, "SELECT customer_id, attributes FROM customers")
    found = Counter(r.customer_id for r in stored)
    lost_customers = sum(1 for cid in expected_customers if cid not in found)
    dup_customers = sum(n - 1 for n in found.values() if n > 1)
    wrong = [
        r.customer_id
        for r in stored
        if json.loads(r.attributes).get("batch_no") != expected_customers.get(r.customer_id)
    ]
    lost, dup = lost_events + lost_customers, dup_events + dup_customers + strays
    assert (lost, dup, wrong) == (0, 0, []), (
        f"lost events {lost_events}, customers {lost_customers}; duplicated events "
        f"{dup_events}, customers {dup_customers}, strays {strays}; wrong attributes {wrong[:5]}"
    )
    assert scalar(db, "SELECT count(*) FROM events") == customers * len(acked)
    return lost, dup
