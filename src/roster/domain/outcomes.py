"""What happened to each element of a batch: the ledger a user reads back.

Every element ends ``applied``, ``skipped`` (with a reason, reported as a warning) or
``failed`` (with a reason, reported as an error). Warnings may also accompany an applied
element (a refused attribute, a stale update). Codes are stable strings, listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

# Stable element-level codes.
INVALID_PLATFORM = "invalid_platform"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
UNKNOWN_CUSTOMER = "unknown_customer"
#: A device to remove that the person does not have (Customer.io's delete_device).
UNKNOWN_DEVICE = "unknown_device"
#: A field inside an element that neither the vendor nor Roster knows (a typo such as
#: ``attrs``): ignored, as the vendors ignore extras, and warned of.
UNKNOWN_FIELD = "unknown_field"
#: A Customer.io call naming an identifier its suppress call keeps out; an unsuppress of one
#: that is not suppressed.
SUPPRESSED = "suppressed"
NOT_SUPPRESSED = "not_suppressed"
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
#: A call Roster accepts but does not apply: none today (``group`` and ``alias`` are applied);
#: kept for a batch stored by an earlier version with a call type this one no longer reads.
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


#: What an applied element did to the stored data (``Ledger.effects``, one byte an element):
#: made something new (a customer, a device, an event, a transaction), changed something that
#: was there, or changed nothing (every value it carried was stored already). An element that
#: was not applied keeps ``NOT_APPLIED``: its issues say why.
CREATED, UPDATED, UNCHANGED, NOT_APPLIED = b"c", b"u", b"n", b"-"
EFFECT_NAMES = {CREATED: "created", UPDATED: "updated", UNCHANGED: "unchanged"}
_C, _U, _N = CREATED[0], UPDATED[0], UNCHANGED[0]


@dataclass(slots=True)
class Ledger:
    """The outcome of every element of one batch, filled in while the batch is applied.

    ``first`` is the index of its first element (a chunk of a batch starts past 0): ``effects``
    holds one byte per element from there, what the element did if it was applied."""

    total: int
    applied: int = 0
    skipped: int = 0
    failed: int = 0
    issues: list[Issue] = field(default_factory=list)
    first: int = 0
    effects: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        if not self.effects:
            self.effects = bytearray(NOT_APPLIED * self.total)

    def created(self, index: int) -> None:
        """The element was applied and made something new."""
        self.applied += 1
        self.effects[index - self.first] = _C

    def updated(self, index: int) -> None:
        """The element was applied and changed something stored."""
        self.applied += 1
        self.effects[index - self.first] = _U

    def unchanged(self, index: int) -> None:
        """The element was applied and every value it carried was stored already."""
        self.applied += 1
        self.effects[index - self.first] = _N

    def effect_counts(self) -> tuple[int, int, int]:
        """``(created, updated, unchanged)``."""
        e = self.effects
        return e.count(_C), e.count(_U), e.count(_N)

    def absorb(self, part: Ledger) -> None:
        """Add a part's elements and issues (a chunk's, to its whole batch's: the chunks in
        order)."""
        self.total += part.total
        self.applied += part.applied
        self.skipped += part.skipped
        self.failed += part.failed
        self.issues += part.issues
        self.effects += part.effects

    def shifted(self, first: int) -> Ledger:
        """This ledger, of elements counted from 0, as the part of a larger batch whose
        elements it holds from ``first`` on (to be ``absorb``-ed in order)."""
        issues = [
            replace(i, index=None if i.index is None else i.index + first) for i in self.issues
        ]
        counts = (self.total, self.applied, self.skipped, self.failed)
        return Ledger(*counts, issues=issues, first=first, effects=bytearray(self.effects))

    def fail(self, index: int, key: str | None, fld: str | None, code: str, msg: str) -> None:
        """The element was not applied at all, because of ``code``."""
        self.failed += 1
        self.issues.append(_issue("error", index, key, fld, code, msg, "failed"))

    def skip(self, index: int, key: str | None, fld: str | None, code: str, msg: str) -> None:
        """The element was deliberately not applied (a duplicate, an unknown customer, ...)."""
        self.skipped += 1
        self.issues.append(_issue("warning", index, key, fld, code, msg, "skipped"))

    def warn(self, index: int, key: str | None, fld: str | None, code: str, msg: str) -> None:
        """The element was applied, but part of it was refused or ignored."""
        self.issues.append(_issue("warning", index, key, fld, code, msg, "applied"))

    def note(self, index: int, key: str | None, fld: str | None, code: str, msg: str) -> None:
        """A warning about an element decided already, reported with the element's own outcome
        (a field no one knows, beside an element that failed for another reason, is not said
        to have been applied)."""
        outcome: ElementOutcome = "applied"
        at = index - self.first
        if 0 <= at < len(self.effects) and self.effects[at] == NOT_APPLIED[0]:
            failed = any(i.index == index and i.severity == "error" for i in self.issues)
            outcome = "failed" if failed else "skipped"
        self.issues.append(_issue("warning", index, key, fld, code, msg, outcome))


#: The most characters an issue's ``message``, ``field`` and ``key`` keep. Messages quote a
#: client's values in excerpts (``element_rules.excerpt``) and fields name what a client chose
#: at most 255 characters long (``element_rules.field_name``); these bounds are the net under
#: them, so the ledger never stores a 90,000-character value whole, whoever wrote the message.
MAX_MESSAGE, MAX_FIELD, MAX_KEY = 1000, 400, 255


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _issue(
    severity: Severity,
    index: int,
    key: str | None,
    fld: str | None,
    code: str,
    msg: str,
    outcome: ElementOutcome,
) -> Issue:
    if len(msg) > MAX_MESSAGE:
        msg = _cut(msg, MAX_MESSAGE)
    if fld is not None and len(fld) > MAX_FIELD:
        fld = _cut(fld, MAX_FIELD)
    if key is not None and len(key) > MAX_KEY:
        key = key[:MAX_KEY]  # as ``element_rules.ledger_key`` cuts an id
    return Issue(severity, index, key, fld, code, msg, outcome)


def issue_outcome(outcome: str | None, severity: str) -> str | None:
    """What became of an issue's element, as a report shows it: the outcome the issue recorded,
    else ``failed`` for an error (issues recorded before schema 0007 hold none)."""
    return outcome or ("failed" if severity == "error" else None)
