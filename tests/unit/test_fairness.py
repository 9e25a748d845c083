"""The fair claim's turns (``domain.fairness``): light senders stay at the front, heavy ones take
turns behind them, and an idle workspace earns no credit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from roster.domain.fairness import COST_MS, HORIZON_MS, next_turn

NOW = 1_700_000_000_000


def test_a_small_batch_keeps_its_workspace_at_about_now() -> None:
    assert next_turn(0, NOW, 2) == NOW + 2 * COST_MS
    # Half a second later its turn is in the past again: the front of the queue.
    assert next_turn(NOW + 2 * COST_MS, NOW + 500, 2) < NOW + 500 + 100


def test_an_idle_workspace_earns_no_credit() -> None:
    """A turn an hour in the past counts as now: coming back, the workspace is not ahead of
    those that were busy meanwhile by more than one claim."""
    assert next_turn(NOW - 3_600_000, NOW, 100) == NOW + 100 * COST_MS


def test_a_flood_runs_at_most_the_horizon_ahead() -> None:
    assert next_turn(NOW, NOW, 1_000_000) == NOW + HORIZON_MS
    assert next_turn(NOW + HORIZON_MS, NOW, 1) == NOW + HORIZON_MS


@given(
    turn=st.integers(0, 2 * NOW),
    now=st.integers(NOW - 10**9, NOW + 10**9),
    elements=st.integers(0, 10**7),
)
def test_a_turn_never_goes_back_past_now_nor_beyond_the_horizon(
    turn: int, now: int, elements: int
) -> None:
    after = next_turn(turn, now, elements)
    assert now < after <= now + HORIZON_MS
    assert after >= min(turn, now + HORIZON_MS)  # never earlier than it was (within the horizon)
