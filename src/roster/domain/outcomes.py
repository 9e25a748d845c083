"""What happened to each element of a batch: the ledger a user reads back.

Every element ends ``applied``, ``skipped`` (with a reason, reported as a warning) or
``failed`` (with a reason, reported as an error). Warnings may also accompany an applied
element (a refused attribute, a stale update). Codes are stable strings, listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# Stable element-level codes.
INVALID_PLATFORM = "invalid_platform"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
UNKNOWN_CUSTOMER = "unknown_customer"
STALE_ATTRIBUTE_SKIPPED = "stale_attribute_skipped"
DUPLICATE_IGNORED = "duplicate_ignored"
INVALID_TIMESTAMP = "invalid_timestamp"
INVALID_ATTRIBUTE_NAME = "invalid_attribute_name"
INVALID_ATTRIBUTE_VALUE = "invalid_attribute_value"
VALUE_TOO_LONG = "value_too_long"
SYSTEM_ATTRIBUTE = "system_attribute"
INVALID_CUSTOMER_ID = "invalid_customer_id"
IDENTIFIER_CONFLICT = "identifier_conflict"
#: A CSV row that cannot be read as a person (a wrong number of fields, a NUL character).
INVALID_ROW = "invalid_row"
#: A call Roster accepts but does not apply (Customer.io ``group``, ``alias``).
NOT_SUPPORTED = "not_supported"
# Merges (MoEngage Merge Users, Customer.io merge_customers): a pair naming one customer twice,
# a customer merged away already, a merged customer holding a wallet, a MoEngage merge in an
# identity-resolution workspace; and
# (a warning) two profiles an import found sharing an identifier, merged into the older one.
SAME_CUSTOMER = "same_customer"
ALREADY_MERGED = "already_merged"
HAS_WALLET = "has_wallet"
IDENTITY_RESOLUTION_ON = "identity_resolution_on"
IDENTITY_MERGED = "identity_merged"
#: A reverted customer that other customers were merged into (reverting it would lose them).
HAS_MERGES = "has_merges"
# The Masivo loyalty migration and live wallet transactions.
EMAIL_TAKEN = "email_taken"
NOT_MIGRATED_ONLY = "not_migrated_only"
NOT_MIGRATED = "not_migrated"
HAS_NEW_TRANSACTIONS = "has_new_transactions"
BALANCE_MISMATCH = "balance_mismatch"
BALANCE_KEPT = "balance_kept"
METRICS_IGNORED = "metrics_ignored"
TRANSACTIONS_ALREADY_MIGRATED = "transactions_already_migrated"
TRANSACTIONS_REFUSED = "transactions_refused"
INSUFFICIENT_BALANCE = "insufficient_balance"

Severity = Literal["error", "warning"]
#: What became of the element an issue concerns: not applied at all (``failed``, an error),
#: deliberately not applied (``skipped``), or applied with part of it refused or ignored.
ElementOutcome = Literal["failed", "skipped", "applied"]


@dataclass(frozen=True, slots=True)
class Issue:
    """One error or warning about one element (``index`` is its position in the request)."""

    severity: Severity
    index: int | None
    key: str | None
    field: str | None
    code: str
    message: str
    #: ``None`` only for issues stored before outcomes were recorded (schema 0007).
    outcome: ElementOutcome | None


@dataclass(slots=True)
class Ledger:
    """The outcome of every element of one batch, filled in while the batch is applied."""

    total: int
    applied: int = 0
    skipped: int = 0
    failed: int = 0
    issues: list[Issue] = field(default_factory=list)

    def mark_applied(self, count: int = 1) -> None:
        self.applied += count

    def absorb(self, part: Ledger) -> None:
        """Add a part's elements and issues (a chunk's, to its whole batch's)."""
        self.total += part.total
        self.applied += part.applied
        self.skipped += part.skipped
        self.failed += part.failed
        self.issues += part.issues

    def fail(self, index: int, key: str | None, fld: str | None, code: str, msg: str) -> None:
        """The element was not applied at all, because of ``code``."""
        self.failed += 1
        self.issues.append(Issue("error", index, key, fld, code, msg, "failed"))

    def skip(self, index: int, key: str | None, fld: str | None, code: str, msg: str) -> None:
        """The element was deliberately not applied (a duplicate, an unknown customer, ...)."""
        self.skipped += 1
        self.issues.append(Issue("warning", index, key, fld, code, msg, "skipped"))

    def warn(self, index: int, key: str | None, fld: str | None, code: str, msg: str) -> None:
        """The element was applied, but part of it was refused or ignored."""
        self.issues.append(Issue("warning", index, key, fld, code, msg, "applied"))
