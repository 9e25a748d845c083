"""The composition root: builds the store and services from ``Settings`` for the API, the
workers and the CLI alike. Nothing touches the database or the environment at import time."""

from __future__ import annotations

from dataclasses import dataclass

from roster import logs
from roster.settings import Settings
from roster.store import migrations
from roster.store.database import Database


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    db: Database


def bootstrap(settings: Settings | None = None, *, upgrade: bool = False) -> Container:
    settings = settings or Settings()
    logs.configure(settings.log_level, json=settings.log_json)
    db = Database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
    )
    if upgrade:
        migrations.upgrade(db)
    return Container(settings, db)


def worker_database(container: Container) -> Database:
    """The store as workers use it.

    On SQLite, worker connections commit with ``synchronous=NORMAL``: a worker's commit lost to a
    power cut takes the batch's effects and its ``done`` mark with it (they are one transaction),
    so the batch is simply applied again. Only the API's acknowledgement needs ``FULL``.
    """
    if not container.db.is_sqlite:
        return container.db
    return Database(
        container.settings.database_url,
        sqlite_synchronous="NORMAL",
        pool_size=container.settings.db_pool_size,
    )
