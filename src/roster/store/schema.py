"""The tables, in SQLAlchemy Core, identical on SQLite and PostgreSQL.

Times are integers (milliseconds since the Unix epoch, UTC) and JSON documents are text
(serialised by msgspec), so both stores hold byte-identical values. The batches table is
both the ledger and the queue (STYLE example 4).
"""

from __future__ import annotations

import sqlalchemy as sa

from roster.domain.batches import Status

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UNFINISHED = sa.text(f"status IN ('{Status.QUEUED}', '{Status.PROCESSING}')")

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("key_rotated_at", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("identity_resolution", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("identifiers", sa.Text, nullable=False),
    sa.Column("limits", sa.Text, nullable=False),
    #: Loyalty tiers: a JSON list of ``{"name", "threshold"}``, lowest threshold first.
    sa.Column("tiers", sa.Text, nullable=False, server_default="[]"),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("workspace_id", sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payload_sha256", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(255)),
    sa.Column("element_count", sa.Integer, nullable=False),
    sa.Column("accepted_at", sa.BigInteger, nullable=False),
    sa.Column("started_at", sa.BigInteger),
    sa.Column("finished_at", sa.BigInteger),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", sa.String(80)),
    sa.Column("lease_expires_at", sa.BigInteger),
    sa.Column("last_error", sa.Text),
    sa.Column("applied", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skipped", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("forwarded_for", sa.String(1000)),
    #: Chunks of a chunked body (``batch_chunks``) applied so far, each in its own transaction.
    sa.Column("done_chunks", sa.Integer, nullable=False, server_default="0"),
    #: The run the batch belongs to (``X-Roster-Run``), if the client named one.
    sa.Column("run", sa.String(100)),
    #: Part of a dry run: held apart from the queue, then decided and rolled back, its ledger kept.
    sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
    #: The applied elements by effect (``domain.outcomes``; schema 0008).
    sa.Column("created", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("workspace_id", "idempotency_key"),
    sa.Index("ix_batches_workspace_id_seq", "workspace_id", "seq"),
    # "Is an earlier batch of this workspace unfinished?" seeks (workspace, status, seq < n).
    sa.Index("ix_batches_workspace_id_status_seq", "workspace_id", "status", "seq"),
    sa.Index("ix_batches_queue", "seq", sqlite_where=UNFINISHED, postgresql_where=UNFINISHED),
    sa.Index("ix_batches_workspace_id_run_seq", "workspace_id", "run", "seq"),
)

#: Each workspace's turn in the fair claim (``domain.fairness``): claims go to the ready workspace
#: whose turn comes first. A workspace never claimed has no row (turn 0). Schema 0014.
workspace_turns = sa.Table(
    "workspace_turns",
    metadata,
    sa.Column("workspace_id", sa.ForeignKey("workspaces.id"), primary_key=True),
    sa.Column("turn", sa.BigInteger, nullable=False),
)

#: A batch's request body as accepted (and as read at the door), apart from its row: SQLite
#: rewrites a whole row (its overflow pages too) whenever a column of it changes, and a batch's
#: status changes three times.
batch_payloads = sa.Table(
    "batch_payloads",
    metadata,
    sa.Column("batch_id", sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    #: The body's entries as the API read them (``formats.masivo_entries``), for the kinds
    #: read at the door.
    sa.Column("prepared", sa.LargeBinary),
)

#: A large body (a CSV import) cut at the door into chunks of whole records, applied one chunk
#: per transaction: neither the API nor the worker ever holds the whole body.
batch_chunks = sa.Table(
    "batch_chunks",
    metadata,
    sa.Column("batch_id", sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    #: The row number (in the file) of the chunk's first record, and how many it holds.
    sa.Column("first_row", sa.Integer, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

#: What each element of a batch did, one letter an element (``domain.outcomes.Ledger.effects``):
#: a row per applied part (``part`` 0 for a whole batch, else its chunk's ``seq``), its letters
#: standing for elements ``first_index`` onwards.
batch_effects = sa.Table(
    "batch_effects",
    metadata,
    sa.Column("batch_id", sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("first_index", sa.Integer, nullable=False),
    sa.Column("effects", sa.Text, nullable=False),
)

batch_issues = sa.Table(
    "batch_issues",
    metadata,
    sa.Column("batch_id", sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("ordinal", sa.Integer, primary_key=True),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("element_index", sa.Integer),
    sa.Column("key", sa.Text),
    sa.Column("field", sa.Text),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    #: What became of the element: failed, skipped, or applied with this warning (``None``:
    #: recorded before schema 0007).
    sa.Column("outcome", sa.String(8)),
    # A profile's timeline finds the stale updates skipped for its customer id.
    sa.Index(
        "ix_batch_issues_stale_key",
        "key",
        sqlite_where=sa.text("code = 'stale_attribute_skipped'"),
        postgresql_where=sa.text("code = 'stale_attribute_skipped'"),
    ),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("uid", BigId, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("customer_id", sa.String(255)),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("attribute_times", sa.Text, nullable=False),
    #: The batch that wrote each attribute's value (``{name: batch_id}``; migration 0013).
    sa.Column("attribute_batches", sa.Text),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("created_batch", sa.String(40)),
    sa.Column("migrated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("migrated_batch", sa.String(40)),
    sa.Column("merged_into", sa.BigInteger),
    sa.Column("merged_at", sa.BigInteger),
    #: Metrics sent with a Masivo customer migration, kept as sent until its events come.
    sa.Column("metrics", sa.Text),
    sa.Column("events_migrated", sa.Boolean, nullable=False, server_default=sa.false()),
    #: When another surface first changed this customer (it is no longer migrated-only).
    sa.Column("live_since", sa.BigInteger),
    sa.UniqueConstraint("workspace_id", "customer_id"),
    # The purge pass finds tombstones (merged customers) by their merge time.
    sa.Index(
        "ix_customers_tombstones",
        "merged_at",
        sqlite_where=sa.text("merged_into IS NOT NULL"),
        postgresql_where=sa.text("merged_into IS NOT NULL"),
    ),
    # Browsing (``GET /v1/customers``, the export): a workspace's customers by uid, and by the
    # time they were created or last changed (migration 0011).
    sa.Index("ix_customers_workspace_id_uid", "workspace_id", "uid"),
    sa.Index("ix_customers_workspace_id_updated_at", "workspace_id", "updated_at"),
    sa.Index("ix_customers_workspace_id_created_at", "workspace_id", "created_at"),
    sqlite_autoincrement=True,  # a uid is never reused, even after deletes
)

customer_identifiers = sa.Table(
    "customer_identifiers",
    metadata,
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("value", sa.String(512), nullable=False),
    sa.Column("uid", sa.ForeignKey("customers.uid"), nullable=False),
    sa.PrimaryKeyConstraint("workspace_id", "name", "value", "uid"),
    sa.Index("ix_customer_identifiers_uid", "uid"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("device_id", sa.String(255), primary_key=True),
    sa.Column("uid", sa.ForeignKey("customers.uid"), nullable=False),
    sa.Column("platform", sa.String(16), nullable=False),
    sa.Column("push_id", sa.Text, nullable=False),
    sa.Column("push_opted_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_devices_uid", "uid"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("uid", sa.BigInteger, nullable=False),
    sa.Column("origin_uid", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("occurred_at", sa.BigInteger, nullable=False),
    sa.Column("local_time", sa.BigInteger),
    sa.Column("tz_offset", sa.Integer),
    sa.Column("platform", sa.String(64)),
    sa.Column("app_version", sa.String(255)),
    sa.Column("device_id", sa.String(255)),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("received_at", sa.BigInteger, nullable=False),
    sa.Column("batch_id", sa.String(40), nullable=False),
    sa.Column("can_trigger", sa.Boolean, nullable=False),
    sa.Column("migrated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_id", sa.String(255)),
    #: The order total of a purchase (a decimal, as text), which metrics add up.
    sa.Column("value", sa.String(64)),
    sa.Index("ix_events_uid_occurred_at", "uid", "occurred_at"),
    sa.Index(
        "ix_events_source_id",
        "workspace_id",
        "source_id",
        unique=True,
        sqlite_where=sa.text("source_id IS NOT NULL"),
        postgresql_where=sa.text("source_id IS NOT NULL"),
    ),
)

wallets = sa.Table(
    "wallets",
    metadata,
    sa.Column("uid", sa.ForeignKey("customers.uid"), primary_key=True),
    sa.Column("reward_id", sa.String(255), primary_key=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    # Amounts are decimals held as text, so both stores keep them exact.
    sa.Column("opening_balance", sa.String(64), nullable=False),
    sa.Column("balance", sa.String(64), nullable=False),
    #: The migrated ``balance[]`` entry as sent (expiration_date, brand_id, ...).
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("migrated_batch", sa.String(40)),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

wallet_transactions = sa.Table(
    "wallet_transactions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("uid", sa.ForeignKey("customers.uid"), nullable=False),
    sa.Column("reward_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("amount", sa.String(64), nullable=False),
    #: False for migrated history (it justifies the opening balance), true for live ones.
    sa.Column("live", sa.Boolean, nullable=False),
    sa.Column("issued_at", sa.BigInteger),
    sa.Column("resolved_at", sa.BigInteger),
    #: The transaction as sent.
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("batch_id", sa.String(40), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_wallet_transactions_uid_live", "uid", "live"),
)

rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.BigInteger, primary_key=True),
    sa.Column("users", sa.Integer, nullable=False, server_default="0"),
    sa.Column("events", sa.Integer, nullable=False, server_default="0"),
    #: Users merged away (MoEngage counts a merge as a user update of its own budget).
    sa.Column("merges", sa.Integer, nullable=False, server_default="0"),
)

#: What happened to profiles beyond their own writes: merges and reverts, each with what moved
#: (``detail``, JSON), so a profile's timeline explains it and a merge can be undone later.
#: Data Pipelines groups (schema 0010): each group's traits, last write wins per trait by source
#: time, and its members.
groups = sa.Table(
    "groups",
    metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("group_id", sa.String(255), primary_key=True),
    sa.Column("traits", sa.Text, nullable=False),
    sa.Column("trait_times", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("group_id", sa.String(255), primary_key=True),
    sa.Column("uid", sa.ForeignKey("customers.uid"), primary_key=True),
    sa.Column("joined_at", sa.BigInteger, nullable=False),
    sa.Index("ix_group_members_uid", "uid"),
)

#: Identifiers Customer.io's suppress call deleted and keeps out (schema 0009): calls naming
#: one are skipped until it is unsuppressed. An email is kept normalised.
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("identifier", sa.String(255), primary_key=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("batch_id", sa.String(40), nullable=False),
)

journal = sa.Table(
    "journal",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("batch_id", sa.String(40), nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    #: ``merge``, ``revert`` or ``delete``.
    sa.Column("action", sa.String(16), nullable=False),
    #: A merge's conflict rule: ``moengage``, ``customerio`` or ``identity``.
    sa.Column("rule", sa.String(16)),
    #: The merged (or reverted) customer, and its customer id at the time.
    sa.Column("uid", sa.BigInteger, nullable=False),
    sa.Column("customer_id", sa.String(255)),
    #: The retained customer of a merge.
    sa.Column("into_uid", sa.BigInteger),
    sa.Column("into_customer_id", sa.String(255)),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Index("ix_journal_workspace_id_uid", "workspace_id", "uid"),
    sa.Index("ix_journal_workspace_id_into_uid", "workspace_id", "into_uid"),
    sa.Index("ix_journal_workspace_id_customer_id", "workspace_id", "customer_id"),
    sqlite_autoincrement=True,
)

# --- the dashboard (schema 0012) ----------------------------------------------------------

#: The people who sign in to the dashboard (``roster user create``), apart from data keys.
operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    #: Trimmed and lower-cased (``domain.operators.operator_email``).
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    #: An argon2id hash (its PHC string holds the salt and the cost parameters).
    sa.Column("password_hash", sa.String(255), nullable=False),
    #: ``admin`` or ``viewer``.
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    #: Sessions signed before this time are refused (a new password signs everyone out).
    sa.Column("password_set_at", sa.BigInteger, nullable=False),
    sa.Column("last_sign_in_at", sa.BigInteger),
    #: Failed sign-ins since the last successful one (the throttle itself is per key, below).
    sa.Column("failed_sign_ins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_failed_at", sa.BigInteger),
    sqlite_autoincrement=True,  # an id is never given again, so no old session names a new one
)

#: Consecutive failed sign-ins per key (``email:...``, ``address:...``), shared by every process.
sign_in_throttle = sa.Table(
    "sign_in_throttle",
    metadata,
    sa.Column("key", sa.String(260), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_failure_at", sa.BigInteger, nullable=False),
    #: No sign-in on this key is even checked before this time.
    sa.Column("blocked_until", sa.BigInteger, nullable=False),
)

#: Secrets the instance made for itself, e.g. the dashboard's session key when
#: ``ROSTER_UI_SECRET`` is unset (so sessions survive restarts and are shared by all processes).
instance_secrets = sa.Table(
    "instance_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
)
