"""Timestamps as clients send them, turned into epoch milliseconds UTC (pure, stdlib only).

Accepted forms (spec section 4): ISO-8601 strings (an offset is honoured, none means UTC, a bare
date is midnight UTC), and epoch seconds or epoch milliseconds as numbers or numeric strings. A
number whose absolute value is at least 1e11 is milliseconds, anything smaller is seconds.
Numbers keep sub-second precision, rounded to the nearest millisecond; ISO fractions finer than a
millisecond are truncated. Booleans, NaN, infinities and anything outside years 1..9999 are
refused with ``InvalidTimestamp``.

``resolve_event_time`` applies MoEngage's rules for an action's ``current_time`` (UTC),
``user_time`` (the device's wall clock) and ``user_timezone_offset`` (seconds).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_MS_THRESHOLD = Decimal(100_000_000_000)  # 1e11: from here on, a number is milliseconds
_FAST_MS_THRESHOLD = 100_000_000_000
_MAX_FAST = 10**15  # integers below this take the fast path (no Decimal)
_MIN_MS = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // _ONE_MS
_MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC) - _EPOCH) // _ONE_MS
_EARLIEST_EVENT_MS = 31_536_000_000  # 1971-01-01T00:00:00Z
_FUTURE_WINDOW_MS = 600_000  # event times may run 10 minutes ahead of the receive time
_MAX_OFFSET_S = 54_000  # 15 hours either side of UTC
_NUMERIC = re.compile(r"[+-]?\d+(?:\.\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d{1,6}", re.ASCII)

_EXPECTED = "expected ISO-8601, epoch seconds or epoch milliseconds"
_OUT_OF_RANGE = "outside the years 1..9999"
_A_TIMESTAMP = "a valid timestamp"
_AN_OFFSET = "a valid timezone offset"


class InvalidTimestamp(ValueError):
    """A value is not a usable timestamp; ``field`` names where it came from when known."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def parse_timestamp(value: object, *, field: str = "timestamp") -> int:
    """Return ``value`` as epoch milliseconds UTC; ``InvalidTimestamp`` names ``field`` if not."""
    if type(value) is str and value[-1:] == "Z":  # the common ISO form, in UTC: no strip or regex
        try:
            ms = (datetime.fromisoformat(value) - _EPOCH) // _ONE_MS
        except (ValueError, TypeError):  # blanks, not ISO-8601: the general rules say why
            pass
        else:
            if _MIN_MS <= ms <= _MAX_MS:
                return ms
    if isinstance(value, bool):
        raise _invalid(field, value, "booleans are refused")
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 15:
        value = int(value)  # the common case, epoch s or ms as a digit string: skip Decimal
    if type(value) is int and -_MAX_FAST < value < _MAX_FAST:
        ms = value if value >= _FAST_MS_THRESHOLD or value <= -_FAST_MS_THRESHOLD else value * 1000
        if _MIN_MS <= ms <= _MAX_MS:
            return ms
    if isinstance(value, int | float):
        return _from_number(Decimal(value), field, value)
    if isinstance(value, str):
        return _from_string(value, field)
    raise _invalid(field, value, _EXPECTED)


def parse_local_timestamp(value: object, *, field: str = "user_time") -> int:
    """Return a device-local time (MoEngage ``user_time``) as epoch milliseconds.

    A value without an offset (a number, a numeric string, a naive ISO string) is the device's wall
    clock encoded as if it were UTC, exactly as ``parse_timestamp`` reads it. An ISO string with an
    explicit offset names a real instant, so that instant (UTC) is returned. Either way the result
    is what ``parse_timestamp`` returns; this function exists to name the intent at call sites.
    """
    return parse_timestamp(value, field=field)


def event_window(now_ms: int) -> tuple[int, int]:
    """The earliest and latest event times ``check_event_window`` accepts at ``now_ms``."""
    return _EARLIEST_EVENT_MS, now_ms + _FUTURE_WINDOW_MS


def check_event_window(ms: int, now_ms: int, *, future_ms: int = _FUTURE_WINDOW_MS) -> None:
    """Refuse an event time more than ``future_ms`` after ``now_ms`` or before 1971."""
    if ms > now_ms + future_ms:
        minutes = future_ms / 60_000
        raise InvalidTimestamp(
            f"timestamp {_show_ms(ms)} is more than {minutes:g} minutes in the future"
        )
    if ms < _EARLIEST_EVENT_MS:
        raise InvalidTimestamp(f"timestamp {_show_ms(ms)} is before 1971-01-01T00:00:00Z")


def format_ms(ms: int) -> str:
    """Format epoch milliseconds as ISO-8601 UTC with milliseconds: ``2024-04-08T09:09:45.726Z``."""
    if not _MIN_MS <= ms <= _MAX_MS:
        raise InvalidTimestamp(f"{ms} ms is {_OUT_OF_RANGE}")
    moment = (_EPOCH + ms * _ONE_MS).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def format_optional_ms(ms: int | None) -> str | None:
    """``format_ms``, or ``None`` for no time."""
    return None if ms is None else format_ms(ms)


def resolve_event_time(
    current_time: object, user_time: object, offset_s: object, received_ms: int
) -> tuple[int, int, int | None]:
    """Return ``(utc_ms, local_ms, offset_s)`` for a MoEngage action; ``None`` means absent.

    Both times given: both are used as they are, and a missing offset is derived from their
    difference (rounded to the second; ``None`` if that falls outside +-15 hours). One time given:
    the other is derived with the offset (0 when absent). Neither: the receive time is UTC.
    The returned offset is the one given or derived, ``None`` when there is none.
    """
    offset = parse_offset(offset_s)
    utc = None if current_time is None else parse_timestamp(current_time, field="current_time")
    local = None if user_time is None else parse_local_timestamp(user_time, field="user_time")
    shift = 0 if offset is None else offset * 1000
    if utc is not None and local is not None:
        return utc, local, offset if offset is not None else _derived_offset(utc, local)
    if utc is not None:
        return utc, utc + shift, offset
    if local is not None:
        return local - shift, local, offset
    return received_ms, received_ms + shift, offset


def common_event_time(
    current_time: object, user_time: object, offset_s: object, received_ms: int
) -> tuple[int, int, int | None] | None:
    """``resolve_event_time`` for the common shape of an action, already checked against the
    event window: ``current_time`` in epoch milliseconds (an integer, or a digit string with no
    leading zero), no ``user_time``, an integer offset or none, a time between 1971 and
    10 minutes after ``received_ms``. ``None`` for any other shape: the general rules decide."""
    if user_time is not None:
        return None
    if (
        type(current_time) is str
        and 11 < len(current_time) < 16
        and current_time.isascii()
        and current_time.isdigit()
        and current_time[0] != "0"
    ):
        utc = int(current_time)  # 12 to 15 digits, no leading zero: at least 1e11, so ms
    elif type(current_time) is int and _FAST_MS_THRESHOLD <= current_time < _MAX_FAST:
        utc = current_time
    else:
        return None
    if not _EARLIEST_EVENT_MS <= utc <= received_ms + _FUTURE_WINDOW_MS:
        return None
    if offset_s is None:
        return utc, utc, None
    if type(offset_s) is int and -_MAX_OFFSET_S <= offset_s <= _MAX_OFFSET_S:
        return utc, utc + offset_s * 1000, offset_s
    return None


def parse_offset(value: object, *, field: str = "user_timezone_offset") -> int | None:
    """Return a timezone offset in whole seconds within +-54000, ``None`` when absent."""
    if value is None:
        return None
    if type(value) is int and -_MAX_OFFSET_S <= value <= _MAX_OFFSET_S:
        return value  # the common case
    offset = _whole_number(value)
    if offset is None:
        raise _invalid(field, value, "whole seconds as a number or numeric string", _AN_OFFSET)
    if not -_MAX_OFFSET_S <= offset <= _MAX_OFFSET_S:
        raise _invalid(field, value, f"within -{_MAX_OFFSET_S}..{_MAX_OFFSET_S} s", _AN_OFFSET)
    return offset


def _whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _derived_offset(utc_ms: int, local_ms: int) -> int | None:
    offset = (local_ms - utc_ms + 500) // 1000
    return offset if -_MAX_OFFSET_S <= offset <= _MAX_OFFSET_S else None


def _from_string(text: str, field: str) -> int:
    stripped = text.strip()
    if _NUMERIC.fullmatch(stripped):
        return _from_number(Decimal(stripped), field, text)
    try:
        moment = datetime.fromisoformat(stripped)
    except ValueError:
        raise _invalid(field, text, _EXPECTED) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = (moment - _EPOCH) // _ONE_MS
    if not _MIN_MS <= ms <= _MAX_MS:
        raise _invalid(field, text, _OUT_OF_RANGE)
    return ms


def _from_number(number: Decimal, field: str, shown: object) -> int:
    if not number.is_finite():
        raise _invalid(field, shown, "a timestamp must be a finite number")
    ms = number if abs(number) >= _MS_THRESHOLD else number * 1000
    if not _MIN_MS <= ms <= _MAX_MS:
        raise _invalid(field, shown, _OUT_OF_RANGE)
    return int(ms.to_integral_value(rounding=ROUND_HALF_EVEN))


def _invalid(field: str, value: object, reason: str, what: str = _A_TIMESTAMP) -> InvalidTimestamp:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InvalidTimestamp(f"{field}: {shown} is not {what} ({reason})", field=field)


def _show_ms(ms: int) -> str:
    return format_ms(ms) if _MIN_MS <= ms <= _MAX_MS else f"{ms} ms"
