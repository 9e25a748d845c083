"""Checks on path and query values, so both stores answer a bad id the same way (400)."""

from __future__ import annotations

from roster.domain.element_rules import MAX_ID_LENGTH
from roster.domain.errors import InvalidParameter

MAX_UID = 2**63 - 1


def text_param(value: str, name: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """An id from the URL: refused when it holds a NUL character or is too long."""
    if "\x00" in value:
        raise InvalidParameter(f"'{name}' must not contain a NUL character", field=name)
    if len(value) > max_length:
        raise InvalidParameter(f"'{name}' holds at most {max_length} characters", field=name)
    return value
