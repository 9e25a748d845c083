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
