"""Schema migrations (Alembic), applied by ``roster db upgrade`` and on ``roster serve``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from roster.store.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migration_scripts"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision`` (the newest by default)."""
    with db.writer.connect() as conn:
        cfg = alembic_config(db)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.reader.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
