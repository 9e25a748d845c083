"""Test helpers: an in-process API client, credentials, and a worker the test drives."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa

from roster.api.app import create_app
from roster.bootstrap import Container
from roster.services.admin import workspace_admin
from roster.services.worker.loop import Worker
from roster.settings import Settings
from roster.store import batch_reads
from roster.store.database import Database
from roster.store.schema import batches as batches_table
from roster.store.schema import metadata

PG_ADMIN_URL = os.environ.get(
    "ROSTER_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
#: In CI a PostgreSQL test fails, never skips, when it cannot connect.
IN_CI = os.environ.get("CI", "").lower() == "true"


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards. Without a server the
    test is skipped, and in CI (``CI=true``) it fails."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI ({PG_ADMIN_URL}): {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL} (with CI=true this fails): {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def settings_for(url: str, **overrides: object) -> Settings:
    """Settings for a test: short leases, polls and retries; ``overrides`` on top."""
    values: dict[str, object] = {
        "database_url": url,
        "lease_seconds": 2.0,
        "heartbeat_seconds": 0.5,
        "poll_seconds": 0.05,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "max_attempts": 3,
        "log_json": True,
        "log_level": "warning",
        "db_pool_size": 4,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass(frozen=True)
class Tenant:
    """A workspace created for a test, with its key and ready-made headers."""

    id: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": basic(self.id, self.key)}

    @property
    def json_auth(self) -> dict[str, str]:
        return {**self.auth, "Content-Type": "application/json"}

    @property
    def pipelines(self) -> dict[str, str]:
        """Customer.io Data Pipelines' credential form (the key as user, blank password)."""
        return {"Authorization": basic(self.key, ""), "Content-Type": "application/json"}

    @property
    def bearer(self) -> dict[str, str]:
        """Masivo's credential form, with a JSON content type."""
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}


class Harness:
    """Talk to Roster like a client does, and run its worker until the queue is empty."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.db = container.db
        self.app = create_app(container)
        self.worker = Worker(container.db, container.settings, name="test-worker")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://roster") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(send())

    def request_all(self, calls: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
        """Send ``(method, url, kwargs)`` requests one after the other, on one client."""

        async def send() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://roster") as client:
                return [await client.request(m, url, **kw) for m, url, kw in calls]

        return asyncio.run(send())

    def get(self, url: str, tenant: Tenant, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, headers=tenant.auth, **kwargs)

    def tenant(self, name: str = "test", **settings: Any) -> Tenant:
        ws, key = workspace_admin.create(self.db, name, default_limits="none")
        if settings:
            workspace_admin.configure(self.db, ws.id, **settings)
        return Tenant(ws.id, key)

    def transition(
        self, tenant: Tenant, elements: list[dict[str, Any]], **headers: str
    ) -> httpx.Response:
        body = json.dumps({"type": "transition", "elements": elements})
        return self.post_raw(tenant, body.encode(), **headers)

    def post_raw(self, tenant: Tenant, body: bytes, **headers: str) -> httpx.Response:
        return self.request(
            "POST",
            f"/v1/transition/{tenant.id}",
            content=body,
            headers={**tenant.json_auth, **headers},
        )

    def masivo(
        self, tenant: Tenant, path: str, body: Any, *, method: str = "POST", **headers: str
    ) -> httpx.Response:
        """A request to the Masivo migration surface (``/api/storefront/v1`` + ``path``)."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request(
            method,
            f"/api/storefront/v1{path}",
            content=content,
            headers={**tenant.bearer, **headers},
        )

    def migrate(self, tenant: Tenant, path: str, body: Any, *, method: str = "POST") -> str:
        """Send a migration request that must be enqueued, apply it, return its batch id."""
        response = self.masivo(tenant, path, body, method=method)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "enqueued"
        self.drain()
        batch_id: str = response.json()["batch_id"]
        return batch_id

    def cio(
        self, tenant: Tenant, path: str, body: Any, *, method: str = "POST", **headers: str
    ) -> httpx.Response:
        """A Customer.io call (Data Pipelines credentials: the key as user)."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.request(method, path, content=content, headers={**tenant.pipelines, **headers})

    def cio_batch(self, tenant: Tenant, path: str, body: Any, *, method: str = "POST") -> str:
        """Send a Customer.io call that must be accepted, apply it, return its batch id."""
        response = self.cio(tenant, path, body, method=method)
        assert response.status_code == 200, response.text
        self.drain()
        batch_id: str = response.json()["batch_id"]
        return batch_id

    def live_transaction(self, tenant: Tenant, customer_id: str, body: Any) -> str:
        """Post a live wallet transaction, apply it, return its batch id."""
        response = self.request(
            "POST",
            f"/v1/customers/{customer_id}/transactions",
            content=json.dumps(body).encode(),
            headers=tenant.json_auth,
        )
        assert response.status_code == 202, response.text
        self.drain()
        batch_id: str = response.json()["batch_id"]
        return batch_id

    def drain(self, timeout: float = 30.0) -> int:
        """Apply batches until none is queued or processing; returns how many were applied."""
        deadline = time.monotonic() + timeout
        applied = 0
        while time.monotonic() < deadline:
            if self.worker.run_once():
                applied += 1
                continue
            with self.db.read() as conn:
                if not batch_reads.backlog(conn):
                    return applied
            time.sleep(0.02)
        raise AssertionError(f"queue not drained within {timeout}s")

    def batch(self, tenant: Tenant, batch_id: str) -> dict[str, Any]:
        response = self.get(f"/v1/batches/{batch_id}", tenant)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def batch_ids(self, tenant: Tenant) -> list[str]:
        """The workspace's batches as the API lists them, newest first."""
        response = self.get("/v1/batches", tenant)
        assert response.status_code == 200, response.text
        return [b["batch_id"] for b in response.json()["batches"]]

    def stored_batches(self) -> int:
        """Batches in the store, all workspaces together (what a request may have left)."""
        with self.db.read() as conn:
            query = sa.select(sa.func.count()).select_from(batches_table)
            return int(conn.execute(query).scalar_one())

    def customer(self, tenant: Tenant, customer_id: str) -> dict[str, Any] | None:
        response = self.get(f"/v1/customers/{customer_id}", tenant)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def events(self, tenant: Tenant, customer_id: str) -> list[dict[str, Any]]:
        response = self.get(f"/v1/customers/{customer_id}/events", tenant)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["events"]
        return result


def empty(db: Database) -> None:
    """Delete every row, so a test starts from an empty store. On PostgreSQL one ``TRUNCATE``
    of every table: a ``DELETE`` checks each foreign key per row with plans the connection
    may have cached while the tables were empty (sequential scans), which took minutes once
    a test had left tens of thousands of customers behind."""
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)}")
            return
        for table in reversed(metadata.sorted_tables):  # children first
            conn.execute(sa.delete(table))
