"""Timestamps: parsing the forms clients send, the event window, formatting and MoEngage times."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roster.domain.timestamps import (
    InvalidTimestamp,
    check_event_window,
    format_ms,
    parse_local_timestamp,
    parse_offset,
    parse_timestamp,
    resolve_event_time,
)

T_MS = 1_712_567_385_726  # 2024-04-08T09:09:45.726Z
JAN_1971_MS = 31_536_000_000
NOW_MS = 1_700_000_000_000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1712567385726, 1712567385726),
        (1359389415, 1359389415000),
        (1359389415.5, 1359389415500),
        (1359389415.001, 1359389415001),
        ("1712567385726", 1712567385726),
        ("1359389415", 1359389415000),
        ("1359389415.5", 1359389415500),
        (" 1359389415 ", 1359389415000),
        ("2020-05-31T16:33:35Z", 1590942815000),
        ("2024-12-10T20:58:01.965Z", 1733864281965),
        ("2020-05-31T16:33:35+05:30", 1590923015000),
        ("2020-05-31T16:33:35-03:00", 1590953615000),
        ("2020-05-31 16:33:35", 1590942815000),
        ("2020-05-31T16:33:35", 1590942815000),
        ("2020-05-31", 1590883200000),
    ],
)
def test_accepted_forms_give_epoch_milliseconds(value: object, expected: int) -> None:
    """Epoch seconds, epoch milliseconds and ISO-8601, as numbers or strings, give UTC ms."""
    assert parse_timestamp(value) == expected


def test_iso_without_offset_is_utc() -> None:
    """An ISO string without an offset is read as UTC."""
    assert parse_timestamp("2020-05-31T16:33:35") == parse_timestamp("2020-05-31T16:33:35Z")


def test_iso_fraction_finer_than_a_millisecond_is_truncated() -> None:
    """Microseconds in an ISO string are truncated to the millisecond."""
    assert parse_timestamp("2020-05-31T16:33:35.123999Z") == 1590942815123


def test_number_just_below_1e11_is_seconds() -> None:
    """99,999,999,999 is below 1e11, so it is seconds."""
    assert parse_timestamp(99_999_999_999) == 99_999_999_999_000


def test_number_at_1e11_is_milliseconds() -> None:
    """100,000,000,000 (1e11) is milliseconds, as an int, a float or a string."""
    assert parse_timestamp(100_000_000_000) == 100_000_000_000
    assert parse_timestamp(1e11) == 100_000_000_000
    assert parse_timestamp("100000000000") == 100_000_000_000


def test_negative_numbers_use_the_same_threshold_by_magnitude() -> None:
    """Negative numbers are seconds or milliseconds by their absolute value."""
    assert parse_timestamp(-5) == -5000
    assert parse_timestamp(-100_000_000_000) == -100_000_000_000


def test_fractional_milliseconds_are_rounded() -> None:
    """A millisecond epoch with a fraction is rounded to the nearest millisecond."""
    assert parse_timestamp(1712567385726.7) == 1712567385727


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        None,
        [],
        {},
        [1712567385726],
        "abc",
        "",
        "   ",
        "1e10",
        "0x10",
        "١٢٣",  # non-ASCII digits
        "2020-13-01",
        "2020-05-31T25:00:00Z",
        math.nan,
        math.inf,
        -math.inf,
        "NaN",
        "Infinity",
        1e300,
        10**400,
        "9" * 5000,
        "0001-01-01T00:00:00+05:00",
    ],
)
def test_anything_else_is_refused(value: object) -> None:
    """Booleans, non-finite or out-of-range numbers, junk strings and other types are refused."""
    with pytest.raises(InvalidTimestamp, match="not a valid timestamp"):
        parse_timestamp(value)


def test_invalid_timestamp_is_a_value_error_naming_its_field() -> None:
    """InvalidTimestamp is a ValueError whose message and attribute name the field."""
    with pytest.raises(ValueError, match=r"^sent_at: 'abc' is not a valid timestamp") as caught:
        parse_timestamp("abc", field="sent_at")
    assert isinstance(caught.value, InvalidTimestamp)
    assert caught.value.field == "sent_at"


def test_long_values_are_clipped_in_messages() -> None:
    """A huge refused value does not flood the message."""
    with pytest.raises(InvalidTimestamp) as caught:
        parse_timestamp("x" * 10_000)
    assert len(str(caught.value)) < 200


def test_local_timestamp_reads_wall_clock_values_as_if_utc() -> None:
    """A numeric or offset-less user_time is its wall clock encoded as if UTC."""
    assert parse_local_timestamp("2020-05-31T22:03:35") == 1590962615000
    assert parse_local_timestamp(1590962615) == 1590962615000


def test_local_timestamp_with_explicit_offset_is_the_real_instant() -> None:
    """A user_time carrying an explicit offset gives the real UTC instant."""
    assert parse_local_timestamp("2020-05-31T22:03:35+05:30") == 1590942815000


def test_local_timestamp_errors_name_user_time() -> None:
    """A bad user_time is reported under the user_time field."""
    with pytest.raises(InvalidTimestamp, match=r"^user_time:"):
        parse_local_timestamp("later")


def test_ten_minutes_in_the_future_is_accepted() -> None:
    """An event exactly 10 minutes after now is accepted."""
    check_event_window(NOW_MS + 600_000, NOW_MS)


def test_more_than_ten_minutes_in_the_future_is_refused() -> None:
    """An event 10 minutes and 1 ms after now is refused."""
    with pytest.raises(InvalidTimestamp, match="more than 10 minutes in the future"):
        check_event_window(NOW_MS + 600_001, NOW_MS)


def test_future_allowance_is_configurable() -> None:
    """A custom future allowance moves the boundary."""
    check_event_window(NOW_MS + 60_000, NOW_MS, future_ms=60_000)
    with pytest.raises(InvalidTimestamp, match="more than 1 minutes"):
        check_event_window(NOW_MS + 60_001, NOW_MS, future_ms=60_000)


def test_start_of_1971_is_accepted() -> None:
    """An event at 1971-01-01T00:00:00Z exactly is accepted."""
    check_event_window(JAN_1971_MS, NOW_MS)


def test_before_1971_is_refused() -> None:
    """An event one millisecond before 1971 is refused."""
    with pytest.raises(InvalidTimestamp, match="before 1971-01-01T00:00:00Z"):
        check_event_window(JAN_1971_MS - 1, NOW_MS)


def test_window_message_survives_absurd_values() -> None:
    """An event time beyond year 9999 is refused with a readable message, not a crash."""
    with pytest.raises(InvalidTimestamp, match="in the future"):
        check_event_window(10**18, NOW_MS)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (T_MS, "2024-04-08T09:09:45.726Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (1590942815000, "2020-05-31T16:33:35.000Z"),
    ],
)
def test_format_ms_gives_iso_utc_with_milliseconds(ms: int, text: str) -> None:
    """Epoch ms format as ISO-8601 UTC with three fraction digits and a Z."""
    assert format_ms(ms) == text


def test_format_ms_refuses_values_beyond_year_9999() -> None:
    """Milliseconds outside the years 1..9999 cannot be formatted."""
    with pytest.raises(InvalidTimestamp, match=r"outside the years 1\.\.9999"):
        format_ms(10**18)


def test_resolve_with_both_times_uses_them_and_derives_the_offset() -> None:
    """Both times are kept as given and the offset is their difference in seconds."""
    got = resolve_event_time("2020-05-31T16:33:35Z", "2020-05-31T22:03:35", None, NOW_MS)
    assert got == (1590942815000, 1590962615000, 19800)


def test_resolve_with_both_times_and_offset_keeps_the_given_offset() -> None:
    """A given offset is returned as is even when both times are given."""
    got = resolve_event_time(1590942815000, 1590962615000, -3600, NOW_MS)
    assert got == (1590942815000, 1590962615000, -3600)


def test_resolve_derived_offset_rounds_to_the_second() -> None:
    """A derived offset is rounded to the nearest second."""
    assert resolve_event_time(1590942815000, 1590942816600, None, NOW_MS)[2] == 2


def test_resolve_derived_offset_beyond_fifteen_hours_is_none() -> None:
    """Two times more than 15 hours apart give no derived offset."""
    assert resolve_event_time(1590942815000, 1591942815000, None, NOW_MS)[2] is None


def test_resolve_with_current_time_only_derives_local_time() -> None:
    """With only current_time, local time is UTC plus the offset."""
    got = resolve_event_time("2020-05-31T16:33:35Z", None, 19800, NOW_MS)
    assert got == (1590942815000, 1590962615000, 19800)


def test_resolve_with_current_time_only_and_no_offset_uses_utc() -> None:
    """With only current_time and no offset, local time equals UTC."""
    assert resolve_event_time(1590942815, None, None, NOW_MS) == (1590942815000,) * 2 + (None,)


def test_resolve_with_user_time_only_derives_utc() -> None:
    """With only user_time, UTC is local time minus the offset."""
    got = resolve_event_time(None, "2020-05-31T22:03:35", "19800", NOW_MS)
    assert got == (1590942815000, 1590962615000, 19800)


def test_resolve_with_user_time_only_and_no_offset_uses_it_as_utc() -> None:
    """With only user_time and no offset, UTC equals the local time."""
    assert resolve_event_time(None, 1590962615000, None, NOW_MS) == (1590962615000,) * 2 + (None,)


def test_resolve_with_no_time_uses_the_receive_time() -> None:
    """Without any time, UTC is the receive time and local time adds the offset."""
    assert resolve_event_time(None, None, None, NOW_MS) == (NOW_MS, NOW_MS, None)
    assert resolve_event_time(None, None, -7200, NOW_MS) == (NOW_MS, NOW_MS - 7_200_000, -7200)


@pytest.mark.parametrize(
    ("current_time", "user_time", "field"),
    [("soon", None, "current_time"), (None, True, "user_time"), ([1], 5, "current_time")],
)
def test_resolve_errors_name_the_time_field(
    current_time: object, user_time: object, field: str
) -> None:
    """A bad current_time or user_time is reported under its own field name."""
    with pytest.raises(InvalidTimestamp, match=f"^{field}:") as caught:
        resolve_event_time(current_time, user_time, None, NOW_MS)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("offset", "seconds"),
    [(-54000, -54000), (54000, 54000), (0, 0), ("19800", 19800), ("-3600", -3600), (3600.0, 3600)],
)
def test_offsets_within_fifteen_hours_are_accepted(offset: object, seconds: int) -> None:
    """Offsets from -54000 to 54000 whole seconds, as numbers or integer strings, are accepted."""
    assert parse_offset(offset) == seconds


def test_absent_offset_is_none() -> None:
    """A missing offset parses to None."""
    assert parse_offset(None) is None


@pytest.mark.parametrize("offset", [54001, -54001, "54001", True, "1.5", 1.5, "", "east", [0]])
def test_bad_offsets_are_refused_naming_the_field(offset: object) -> None:
    """Offsets out of range, fractional, boolean or not numbers are refused."""
    with pytest.raises(InvalidTimestamp, match=r"^user_timezone_offset:") as caught:
        resolve_event_time(None, None, offset, NOW_MS)
    assert caught.value.field == "user_timezone_offset"


sane_ms = st.integers(min_value=-(10**13), max_value=253_402_300_799_999)


@given(sane_ms)
def test_formatted_times_parse_back_to_themselves(ms: int) -> None:
    """parse_timestamp(format_ms(x)) == x for any time from 1653 to the end of year 9999."""
    assert parse_timestamp(format_ms(ms)) == ms


@given(st.integers(min_value=100_000_000_000, max_value=253_402_300_799_999))
def test_millisecond_numbers_are_taken_as_is(ms: int) -> None:
    """A number of 1e11 or more comes back unchanged, as an int or a numeric string."""
    assert parse_timestamp(ms) == ms
    assert parse_timestamp(str(ms)) == ms


@given(st.integers(min_value=0, max_value=99_999_999_999))
def test_second_numbers_are_scaled_to_milliseconds(seconds: int) -> None:
    """A non-negative number below 1e11 is seconds, multiplied by 1000."""
    assert parse_timestamp(seconds) == seconds * 1000


@given(st.one_of(st.text(max_size=40), st.floats(), st.integers(), st.none(), st.booleans()))
def test_parse_never_raises_anything_else(value: object) -> None:
    """Whatever the input, parse_timestamp returns an int or raises InvalidTimestamp."""
    with contextlib.suppress(InvalidTimestamp):
        assert isinstance(parse_timestamp(value), int)
