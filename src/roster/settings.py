"""Settings, read from the environment (``ROSTER_*``) once, by the composition root.

Every field here is documented in ``docs/settings.md``; a test fails when one is missing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Roster's process settings. Workspace settings live in the database, not here."""

    model_config = SettingsConfigDict(env_prefix="ROSTER_", extra="ignore")

    database_url: str = Field(
        "sqlite:///./roster.db", description="SQLAlchemy-style URL of the store."
    )
    host: str = Field("127.0.0.1", description="Address `roster serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `roster serve` listens on.")
    tls_cert: str | None = Field(
        None,
        description="A PEM certificate (chain) file: `roster serve` then speaks HTTPS only "
        "(Customer.io's Track client reaches nothing else). Needs `tls_key`.",
    )
    tls_key: str | None = Field(None, description="The PEM private key of `tls_cert`.")
    workers: int = Field(
        1,
        ge=0,
        le=64,
        description="Worker loops `roster serve` runs beside its API.",
    )
    worker_processes: bool = Field(
        True,
        description="Whether `roster serve` runs its worker loops as child processes "
        "(`roster worker`, a core each) instead of threads of its own process.",
    )
    worker_concurrency: int = Field(
        1, ge=1, le=64, description="Worker loops one `roster worker` process runs."
    )
    lease_seconds: float = Field(
        8.0, gt=0, description="How long a claimed batch stays reserved without a heartbeat."
    )
    heartbeat_seconds: float = Field(
        2.0, gt=0, description="How often a worker renews the lease of the batch in hand."
    )
    poll_seconds: float = Field(
        0.2, gt=0, description="How long an idle worker sleeps before looking for work again."
    )
    group_max_batches: int = Field(
        16, ge=1, le=1000, description="Most consecutive batches of one workspace applied together."
    )
    group_max_elements: int = Field(
        20_000, ge=1, description="Most elements in one group of batches applied together."
    )
    pipeline_groups: int = Field(
        8,
        ge=1,
        le=1000,
        description=(
            "PostgreSQL: most groups of one workspace a worker applies in a row, deciding each"
            " while the one before it is written (1: one group at a time)."
        ),
    )
    max_attempts: int = Field(
        5, ge=1, description="Attempts at applying a batch before it is marked `failed`."
    )
    retry_base_seconds: float = Field(
        1.0, ge=0, description="First retry delay; it doubles with every further attempt."
    )
    retry_max_seconds: float = Field(300.0, ge=0, description="Longest delay between retries.")
    shutdown_grace_seconds: float = Field(
        20.0, ge=0, description="How long SIGTERM waits for the batch in hand to finish."
    )
    default_limits: Literal["none", "vendor"] = Field(
        "none", description="Rate limits given to new workspaces: `none` or the vendors' values."
    )
    max_body_bytes: int = Field(
        102_400, gt=0, description="Largest transition request body (100 KB)."
    )
    batch_max_body_bytes: int = Field(
        512_000,
        gt=0,
        description="Largest Customer.io `/v1/batch` request body (500 KB, the vendor's limit).",
    )
    csv_max_bytes: int = Field(
        104_857_600,
        gt=0,
        description="Largest CSV people import file (100 MB, Customer.io's limit).",
    )
    migration_max_body_bytes: int = Field(
        10_485_760,
        gt=0,
        description="Largest loyalty migration request body (10 MB: 1000 customers or events).",
    )
    max_string_length: int = Field(
        512, gt=0, description="Longest attribute string value kept; longer ones are refused."
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="SQLite `PRAGMA synchronous`; FULL survives power loss."
    )
    db_pool_size: int = Field(
        10, ge=1, description="Database connections each process keeps (PostgreSQL)."
    )
    log_level: str = Field("info", description="Lowest level of log event written.")
    log_json: bool = Field(True, description="Write logs as JSON lines (false: console style).")
    metrics_token: SecretStr | None = Field(
        None,
        min_length=16,
        description="A bearer token `GET /metrics` requires; unset, the endpoint is open.",
    )
    ui_secret: SecretStr | None = Field(
        None,
        min_length=32,
        description="Key that signs the dashboard's session cookies; unset: one made once and "
        "kept in the database.",
    )
    ui_session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="How long a dashboard sign-in lasts."
    )
    fault_point: str | None = Field(
        None,
        description="Testing only: a named crash point where the process kills itself.",
    )
