"""The loyalty rules on their own: amounts, reconciliation, calendar periods, tiers, entries."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from roster.domain.errors import InvalidSetting
from roster.domain.loyalty import (
    EntryProblem,
    InvalidAmount,
    amount_json,
    amount_of,
    amount_text,
    period_bounds,
    purchase_metrics,
    read_balance,
    read_transaction,
    reconcile,
    tier_for,
    tiers_of,
)


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_amounts_are_exact_and_stored_without_exponents() -> None:
    assert amount_of(Decimal("0.1")) + amount_of(Decimal("0.2")) == Decimal("0.3")
    assert amount_text(Decimal("1E+3")) == "1000"
    assert amount_text(Decimal("-0")) == "0"
    assert amount_json(Decimal("1200.00")) == 1200
    assert amount_json(Decimal("450.5")) == 450.5
    assert amount_of(Decimal("1.500000000000000000000000")) == Decimal("1.5")
    for bad in (True, None, "lots", Decimal("NaN"), Decimal("1e19"), [1], Decimal("1e-19")):
        with pytest.raises(InvalidAmount):
            amount_of(bad)


def test_reconcile_reports_every_reward_that_does_not_add_up() -> None:
    """Expected, summed and delta per reward; a missing balance expects 0, a balance without
    transactions sums to 0."""
    balances = {"a": Decimal(1200), "b": Decimal(10)}
    found = reconcile(balances, [("a", Decimal(1500)), ("a", Decimal(-350)), ("c", Decimal(1))])
    assert [(m.reward_id, m.expected, m.summed, m.delta) for m in found] == [
        ("a", 1200, 1150, 50),
        ("b", 10, 0, 10),
        ("c", 0, 1, -1),
    ]
    assert "delta 50" in found[0].describe()
    assert reconcile({"a": Decimal(5)}, [("a", Decimal("2.5")), ("a", Decimal("2.5"))]) == []


@pytest.mark.parametrize(
    ("now", "quarter", "last_quarter"),
    [
        (ms(2026, 2, 14), (ms(2026, 1, 1), ms(2026, 4, 1)), (ms(2025, 10, 1), ms(2026, 1, 1))),
        (ms(2026, 12, 2), (ms(2026, 10, 1), ms(2027, 1, 1)), (ms(2026, 7, 1), ms(2026, 10, 1))),
    ],
)
def test_periods_are_utc_calendar_periods(
    now: int, quarter: tuple[int, int], last_quarter: tuple[int, int]
) -> None:
    bounds = period_bounds(now)
    assert bounds["this_quarter"] == quarter
    assert bounds["last_quarter"] == last_quarter
    year = datetime.fromtimestamp(now / 1000, tz=UTC).year
    assert bounds["this_year"] == (ms(year, 1, 1), ms(year + 1, 1, 1))
    assert bounds["last_year"] == (ms(year - 1, 1, 1), ms(year, 1, 1))
    assert bounds["lifetime"] == (None, None)


def test_january_last_month_is_december_of_the_year_before() -> None:
    assert period_bounds(ms(2027, 1, 5))["last_month"] == (ms(2026, 12, 1), ms(2027, 1, 1))


def test_purchase_metrics_per_period() -> None:
    now = ms(2026, 12, 2)
    purchases = [
        (ms(2026, 12, 1, 10), Decimal(100)),
        (ms(2026, 11, 30, 23), Decimal("50.5")),
        (ms(2025, 6, 1), Decimal(20)),
        (ms(2026, 12, 1, 11), None),
    ]
    m = purchase_metrics(purchases, now)
    assert (m["lifetime"].spend_total, m["lifetime"].number_of_purchases) == (Decimal("170.5"), 4)
    assert (m["this_month"].spend_total, m["this_month"].number_of_purchases) == (100, 2)
    assert m["this_month"].last_purchase_at == ms(2026, 12, 1, 11)
    assert m["last_month"].spend_total == Decimal("50.5")
    assert m["last_year"].spend_total == 20
    assert m["this_quarter"].spend_total == Decimal("150.5")
    assert m["last_quarter"].number_of_purchases == 0


def test_tiers_are_sorted_and_the_highest_reached_wins() -> None:
    tiers = tiers_of([("Gold", 2000), ("Bronze", 0), ("Silver", "500")])
    assert [t.name for t in tiers] == ["Bronze", "Silver", "Gold"]
    assert tier_for(tiers, Decimal(0)) == "Bronze"
    assert tier_for(tiers, Decimal("499.99")) == "Bronze"
    assert tier_for(tiers, Decimal(500)) == "Silver"
    assert tier_for(tiers, Decimal(10_000)) == "Gold"
    assert tier_for(tiers_of([("Silver", 500)]), Decimal(10)) is None
    assert tier_for((), Decimal(10)) is None


@pytest.mark.parametrize(
    ("pairs", "field"),
    [
        ([("A", 0), ("A", 1)], "tiers[].name"),
        ([("A", 0), ("B", 0)], "tiers[].threshold"),
        ([("A", -1)], "tiers[0].threshold"),
        ([("", 1)], "tiers[0].name"),
        ([("A", "x")], "tiers[0].threshold"),
    ],
)
def test_bad_tier_rules_name_the_field(pairs: list[tuple[object, object]], field: str) -> None:
    with pytest.raises(InvalidSetting) as caught:
        tiers_of(pairs)
    assert caught.value.field == field


def test_a_transaction_entry_is_read_or_refused_naming_the_field() -> None:
    t = read_transaction(
        {
            "type": "REDEMPTION",
            "reward_id": "r",
            "amount": Decimal("-2.5"),
            "issued_at": 1700000000,
        },
        "t",
    )
    assert (t.type, t.amount, t.issued_at) == ("REDEMPTION", Decimal("-2.5"), 1700000000000)
    for entry, field in (
        ({"type": "GIFT", "reward_id": "r", "amount": 1}, "t.type"),
        ({"type": "ACCUMULATION", "amount": 1}, "t.reward_id"),
        ({"type": "ACCUMULATION", "reward_id": "r"}, "t.amount"),
        (
            {"type": "ACCUMULATION", "reward_id": "r", "amount": 1, "issued_at": "soon"},
            "t.issued_at",
        ),
    ):
        with pytest.raises(EntryProblem) as caught:
            read_transaction(entry, "t")
        assert caught.value.field == field


def test_a_balance_has_each_reward_once_and_no_negative_amount() -> None:
    found = read_balance([{"reward_id": "r", "amount": 3}], "b")
    assert found["r"][0] == 3
    with pytest.raises(EntryProblem):
        read_balance([{"reward_id": "r", "amount": 1}, {"reward_id": "r", "amount": 2}], "b")
    with pytest.raises(EntryProblem):
        read_balance([{"reward_id": "r", "amount": -1}], "b")
    with pytest.raises(EntryProblem):
        read_balance({"reward_id": "r"}, "b")
