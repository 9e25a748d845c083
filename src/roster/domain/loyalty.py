"""Loyalty rules (Masivo migrations, live wallets): amounts, transaction types, reconciliation,
metrics and tiers.

Amounts are ``Decimal`` throughout: read from the JSON number's text, summed exactly, stored
as text. Metrics are derived from a customer's purchase events, per calendar period in UTC
(``lifetime``, ``this_month``, ``last_month``, ``this_quarter``, ``last_quarter``,
``this_year``, ``last_year``); the tier is the highest threshold at or below the lifetime
``spend_total``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from typing import Any, NamedTuple

from roster.domain import outcomes
from roster.domain.element_rules import MAX_ID_LENGTH, EntryProblem, excerpt, id_text, usable_id
from roster.domain.errors import InvalidSetting
from roster.domain.timestamps import InvalidTimestamp, parse_timestamp

TRANSACTION_TYPES = frozenset(
    {"ACCUMULATION", "REDEMPTION", "EXPIRATION", "MIGRATION", "TRANSFER", "REVERSAL"}
)
PURCHASE = "PURCHASE"
#: Largest amount magnitude, and most decimal places, accepted: any amount, and any sum of a
#: batch's amounts, fits the 64 characters an amount is stored in.
MAX_AMOUNT = Decimal("1e18")
MAX_DECIMALS = 18
#: Arithmetic on amounts: the default context rounds to 28 digits, and an amount may have 36
#: (18 before the point, 18 after); sums of a batch's amounts stay far below 100.
EXACT = Context(prec=100)
MAX_TIERS = 50
MAX_TIER_NAME = 100


class InvalidAmount(ValueError):
    """A value that is not a finite decimal amount."""


#: The text of an amount that ``amount_of`` returns unchanged: at most 18 digits before the point
#: and 18 after, no trailing zero, no exponent.
_CANONICAL = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{0,17}[1-9])?")


def amount_of(value: Any) -> Decimal:
    """A JSON number (decoded as ``int`` or ``Decimal``) or numeric string as an amount."""
    if type(value) is Decimal and _CANONICAL.fullmatch(str(value)):
        return value  # the common case, already in its stored form
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str | float):
        raise InvalidAmount(f"must be a number, got {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidAmount(f"must be a number, got {excerpt(value)}") from None
    if not amount.is_finite() or amount.copy_abs() >= MAX_AMOUNT:
        raise InvalidAmount(f"must be a finite number below {MAX_AMOUNT:,.0f} in size")
    places = _decimal_places(amount)
    if places > MAX_DECIMALS:
        raise InvalidAmount(f"must have at most {MAX_DECIMALS} decimal places")
    # Without its trailing zeros (exactly): 1.50000 is stored as 1.5.
    return amount.quantize(Decimal(1).scaleb(-places), context=EXACT)


def stored_amount(value: Any) -> tuple[Decimal, str]:
    """``amount_of`` and its ``amount_text`` at once."""
    if type(value) is Decimal and _CANONICAL.fullmatch(text := str(value)):
        return value, "0" if text == "-0" else text
    amount = amount_of(value)
    return amount, amount_text(amount)


def _decimal_places(amount: Decimal) -> int:
    """Significant digits after the point (trailing zeros do not count), computed exactly."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    places = -exponent
    for digit in reversed(digits):
        if places <= 0 or digit != 0:
            break
        places -= 1
    return max(places, 0)


def amount_text(amount: Decimal) -> str:
    """How an amount is stored: plain notation, never an exponent (``1E+3`` is ``1000``)."""
    text = format(amount, "f")
    return "0" if text in ("-0", "0") else text


def amount_json(amount: Decimal) -> int | float:
    """An amount as a JSON number for the read API (exact for integers and short decimals)."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(amount)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A reward whose migrated transactions do not add up to its migrated balance."""

    reward_id: str
    expected: Decimal
    summed: Decimal

    @property
    def delta(self) -> Decimal:
        return EXACT.subtract(self.expected, self.summed)

    def describe(self) -> str:
        return (
            f"reward {self.reward_id!r}: balance {amount_text(self.expected)}, transactions sum "
            f"to {amount_text(self.summed)} (delta {amount_text(self.delta)})"
        )


def reconcile(
    balances: Mapping[str, Decimal], transactions: Iterable[tuple[str, Decimal]]
) -> list[Mismatch]:
    """Per reward, the signed sum of ``transactions`` against the migrated balance (a reward
    with a balance and no transactions sums to 0; one with transactions and no balance expects
    0). Returns the rewards that do not match, in reward order."""
    sums: dict[str, Decimal] = {reward: Decimal(0) for reward in balances}
    for reward, amount in transactions:
        sums[reward] = EXACT.add(sums.get(reward, Decimal(0)), amount)
    return [
        Mismatch(reward, balances.get(reward, Decimal(0)), summed)
        for reward, summed in sorted(sums.items())
        if summed != balances.get(reward, Decimal(0))
    ]


# --- metrics -------------------------------------------------------------------------------

PERIODS = (
    "lifetime",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
)


def _start(year: int, month: int) -> int:
    """Milliseconds at the start of a month (months past 12 or below 1 roll the year)."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp() * 1000)


def period_bounds(now_ms: int) -> dict[str, tuple[int | None, int | None]]:
    """Each period's ``[from, to)`` in epoch ms (UTC calendar); lifetime is unbounded."""
    now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
    y, m = now.year, now.month
    q = m - (m - 1) % 3  # first month of this quarter
    return {
        "lifetime": (None, None),
        "this_month": (_start(y, m), _start(y, m + 1)),
        "last_month": (_start(y, m - 1), _start(y, m)),
        "this_quarter": (_start(y, q), _start(y, q + 3)),
        "last_quarter": (_start(y, q - 3), _start(y, q)),
        "this_year": (_start(y, 1), _start(y + 1, 1)),
        "last_year": (_start(y - 1, 1), _start(y, 1)),
    }


@dataclass(slots=True)
class PeriodMetrics:
    spend_total: Decimal = Decimal(0)
    number_of_purchases: int = 0
    last_purchase_at: int | None = None


def purchase_metrics(
    purchases: Iterable[tuple[int, Decimal | None]], now_ms: int
) -> dict[str, PeriodMetrics]:
    """Metrics of every period from ``(occurred_at, order value)`` of purchase events; a
    purchase without a value counts as a purchase of no spend."""
    bounds = period_bounds(now_ms)
    result = {name: PeriodMetrics() for name in PERIODS}
    for at, value in purchases:
        for name, (lo, hi) in bounds.items():
            if (lo is None or at >= lo) and (hi is None or at < hi):
                m = result[name]
                m.spend_total = EXACT.add(m.spend_total, value or 0)
                m.number_of_purchases += 1
                if m.last_purchase_at is None or at > m.last_purchase_at:
                    m.last_purchase_at = at
    return result


# --- tiers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    threshold: Decimal


def tiers_of(pairs: Sequence[tuple[Any, Any]]) -> tuple[Tier, ...]:
    """Validated tier rules, lowest threshold first: names 1-100 characters and distinct,
    thresholds distinct numbers of 0 or more, at most 50 tiers (an empty list: no tiers)."""
    if len(pairs) > MAX_TIERS:
        raise InvalidSetting(f"at most {MAX_TIERS} tiers, got {len(pairs)}", field="tiers")
    tiers = []
    for n, (name, threshold) in enumerate(pairs):
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TIER_NAME:
            msg = f"tiers[{n}].name must be 1-{MAX_TIER_NAME} characters"
            raise InvalidSetting(msg, field=f"tiers[{n}].name")
        try:
            value = amount_of(threshold)
        except InvalidAmount as exc:
            where = f"tiers[{n}].threshold"
            raise InvalidSetting(f"{where} {exc}", field=where) from None
        if value < 0:
            msg = f"tiers[{n}].threshold must be 0 or more, got {amount_text(value)}"
            raise InvalidSetting(msg, field=f"tiers[{n}].threshold")
        tiers.append(Tier(name.strip(), value))
    for what, values in (
        ("name", [t.name for t in tiers]),
        ("threshold", [t.threshold for t in tiers]),
    ):
        if len(set(values)) != len(values):
            raise InvalidSetting(f"each tier needs its own {what}", field=f"tiers[].{what}")
    return tuple(sorted(tiers, key=lambda t: t.threshold))


def tier_for(tiers: Sequence[Tier], spend_total: Decimal) -> str | None:
    """The highest tier whose threshold is at or below ``spend_total`` (``None`` below all)."""
    found = None
    for tier in tiers:  # lowest first
        if tier.threshold <= spend_total:
            found = tier.name
    return found


# --- entries of a migration or a live transaction ------------------------------------------


class TransactionEntry(NamedTuple):
    reward_id: str
    type: str
    amount: Decimal
    issued_at: int | None
    resolved_at: int | None


def text_id(value: Any, where: str, *, required: bool = True) -> str | None:
    """A client id (a reward, a purchase): a non-blank string (or an integer) of at most 255."""
    if value is None and not required:
        return None
    text = id_text(value)
    if text is None or not usable_id(text):
        code = outcomes.MISSING_FIELD if value is None else outcomes.INVALID_FIELD
        msg = f"'{where}' must be a non-blank string of at most {MAX_ID_LENGTH} characters"
        raise EntryProblem(where, code, msg)
    return text


def entry_amount(value: Any, where: str, *, at_least_zero: bool = False) -> Decimal:
    if value is None:
        raise EntryProblem(where, outcomes.MISSING_FIELD, f"'{where}' is required")
    try:
        amount = amount_of(value)
    except InvalidAmount as exc:
        raise EntryProblem(where, outcomes.INVALID_FIELD, f"'{where}' {exc}") from None
    if at_least_zero and amount < 0:
        msg = f"'{where}' must be 0 or more, got {amount_text(amount)}"
        raise EntryProblem(where, outcomes.INVALID_FIELD, msg)
    return amount


def entry_time(value: Any, where: str, *, required: bool) -> int | None:
    if value is None:
        if required:
            raise EntryProblem(where, outcomes.MISSING_FIELD, f"'{where}' is required")
        return None
    if isinstance(value, Decimal):
        value = str(value)
    try:
        return parse_timestamp(value, field=where)
    except InvalidTimestamp as exc:
        raise EntryProblem(where, outcomes.INVALID_TIMESTAMP, f"'{where}': {exc}") from None


def read_transaction(value: Any, where: str) -> TransactionEntry:
    """A migrated or live transaction: ``type`` of the six, ``reward_id``, signed ``amount``
    (negative when spent), optional ``issued_at`` / ``resolved_at``."""
    if not isinstance(value, dict):
        raise EntryProblem(where, outcomes.INVALID_FIELD, f"'{where}' must be an object")
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in TRANSACTION_TYPES:
        allowed = " | ".join(sorted(TRANSACTION_TYPES))
        code = outcomes.MISSING_FIELD if kind is None else outcomes.INVALID_FIELD
        raise EntryProblem(f"{where}.type", code, f"'{where}.type' must be one of {allowed}")
    reward = text_id(value.get("reward_id"), f"{where}.reward_id")
    assert reward is not None
    return TransactionEntry(
        reward_id=reward,
        type=kind,
        amount=entry_amount(value.get("amount"), f"{where}.amount"),
        issued_at=entry_time(value.get("issued_at"), f"{where}.issued_at", required=False),
        resolved_at=entry_time(value.get("resolved_at"), f"{where}.resolved_at", required=False),
    )


def read_balance(value: Any, where: str) -> dict[str, tuple[Decimal, dict[str, Any]]]:
    """A migrated ``balance[]``: ``reward_id -> (amount, the entry as sent)``; amounts of 0 or
    more, each reward once."""
    if not isinstance(value, list):
        raise EntryProblem(where, outcomes.INVALID_FIELD, f"'{where}' must be a list")
    found: dict[str, tuple[Decimal, dict[str, Any]]] = {}
    for n, entry in enumerate(value):
        at = f"{where}[{n}]"
        if not isinstance(entry, dict):
            raise EntryProblem(at, outcomes.INVALID_FIELD, f"'{at}' must be an object")
        reward = text_id(entry.get("reward_id"), f"{at}.reward_id")
        assert reward is not None
        if reward in found:
            msg = f"'{at}.reward_id' {reward!r} appears twice in this customer's balance"
            raise EntryProblem(f"{at}.reward_id", outcomes.INVALID_FIELD, msg)
        found[reward] = (
            entry_amount(entry.get("amount"), f"{at}.amount", at_least_zero=True),
            entry,
        )
    return found
