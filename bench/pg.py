"""PostgreSQL helpers: is it reachable, a fresh database per rep, and what it is set to."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

SETTINGS = (
    "shared_buffers",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "wal_level",
    "max_wal_size",
    "checkpoint_timeout",
    "work_mem",
)


def reachable(admin_url: str) -> str | None:
    """``None`` when PostgreSQL answers at ``admin_url``, else why not."""
    try:
        with psycopg.connect(admin_url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip() or type(exc).__name__
    return None


def url_of(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url``."""
    return admin_url.rsplit("/", 1)[0] + "/" + name


@contextmanager
def fresh_database(admin_url: str, prefix: str = "roster_bench") -> Iterator[str]:
    """Create an empty database, yield its URL, and drop it (even when the block fails)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url_of(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_info(admin_url: str) -> dict[str, Any]:
    """The server version and the settings that change write speed."""
    with psycopg.connect(admin_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        rows = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", [list(SETTINGS)]
        ).fetchall()
    settings = {name: f"{value}{unit or ''}" if unit else value for name, value, unit in rows}
    return {"server_version": version[0] if version else None, "settings": settings}


def checkpoint(url: str) -> None:
    """Flush dirty pages before a timed stage (untimed; needs a superuser)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
