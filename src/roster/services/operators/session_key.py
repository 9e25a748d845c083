"""The key that signs the dashboard's sessions: ``ROSTER_UI_SECRET``, or else one the instance
made once and keeps in its database, so sessions survive restarts and every process of the
same database (PostgreSQL: on any machine) accepts the others' cookies."""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa

from roster.store import instance_secrets
from roster.store.database import Database

NAME = "ui_session_key"


def session_key(db: Database, configured: str | None) -> str:
    if configured:
        return configured
    with db.read() as conn:
        found = instance_secrets.get(conn, NAME)
    if found is not None:
        return found
    try:
        with db.write() as conn:
            now = int(time.time() * 1000)
            return instance_secrets.insert_if_absent(
                conn, NAME, lambda: secrets.token_urlsafe(48), now
            )
    except sa.exc.IntegrityError:  # another process stored one first: use that
        with db.read() as conn:
            stored = instance_secrets.get(conn, NAME)
        assert stored is not None
        return stored
