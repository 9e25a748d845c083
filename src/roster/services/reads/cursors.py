"""The page cursors the read API hands out (``next``) and takes back (``after``): a number, or
for a run's issues two numbers joined by a dot."""

from __future__ import annotations

from typing import NoReturn

from roster.domain.errors import InvalidParameter


def is_number(text: str) -> bool:
    """A cursor's number: ASCII digits, within a 64-bit integer (a longer one names no row and
    is refused as the database would refuse it)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def number(after: str | None) -> int | None:
    """The number of a one-number cursor (``None``: the first page); a 400 naming ``after``
    for anything else."""
    if after is None:
        return None
    if not is_number(after):
        refuse(after)
    return int(after)


def refuse(after: str) -> NoReturn:
    msg = f"'after' must be a cursor from an earlier page's 'next', got {after[:40]!r}"
    raise InvalidParameter(msg, field="after")
