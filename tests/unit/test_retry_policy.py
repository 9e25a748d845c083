"""The retry policy: a pure function of the attempt count and the settings."""

from __future__ import annotations

import pytest

from roster.services.worker.retry import given_up, retry_delay
from roster.settings import Settings

POLICY = Settings(retry_base_seconds=0.5, retry_max_seconds=5.0, max_attempts=6)


@pytest.mark.parametrize(("attempts", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0)])
def test_the_wait_doubles_after_each_failed_attempt_up_to_the_cap(
    attempts: int, delay: float
) -> None:
    """After attempt n the next waits base * 2^(n-1) seconds, never more than the cap."""
    assert retry_delay(attempts, POLICY) == delay


@pytest.mark.parametrize("attempts", [6, 7, 100])
def test_a_batch_is_given_up_after_its_last_attempt(attempts: int) -> None:
    """Once max_attempts attempts failed there is no next one."""
    assert retry_delay(attempts, POLICY) is None


def test_a_batch_taken_over_after_its_last_attempt_is_not_tried_again() -> None:
    """A claim beyond max_attempts (each earlier worker died holding it) gives the batch up;
    the last allowed attempt is still made."""
    assert not given_up(6, POLICY)
    assert given_up(7, POLICY)


def test_one_attempt_allowed_means_no_retry() -> None:
    """With max_attempts 1 the first failure is final."""
    assert retry_delay(1, Settings(max_attempts=1)) is None
