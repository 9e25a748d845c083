"""Schema migrations (Alembic), applied by ``roster db upgrade`` and on ``roster serve``."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from roster.store.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migration_scripts"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


#: Any constant: serialises ``upgrade`` across processes starting together on PostgreSQL.
ADVISORY_LOCK_ID = 0x526F73746572


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision`` (the newest by default).

    Several processes may start at once: on PostgreSQL they take turns through an advisory
    lock; on SQLite the migration's ``BEGIN IMMEDIATE`` transaction does the same.
    """
    with db.writer.connect() as conn:
        if db.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
            conn.commit()
        try:
            cfg = alembic_config(db)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
        finally:
            if db.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})
                conn.commit()


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.reader.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
