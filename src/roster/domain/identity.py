"""Identifiers (email, mobile, ...) that find a customer when identity resolution is on.

Values are compared after trimming; identifiers whose name contains ``email`` are compared
case-insensitively (``Ana@X.io`` and ``ana@x.io`` are the same person), as Customer.io does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Longest identifier value indexed (the column holds 512 characters).
MAX_IDENTIFIER_LENGTH = 512
#: The anonymous id a Data Pipelines call (``anonymousId``) or a Track API anonymous event
#: (``anonymous_id``) names: every workspace indexes it, so an anonymous profile is found
#: again, and so is the person it was merged into.
ANONYMOUS_ID = "anonymous_id"


def normalise_identifier(name: str, value: str) -> str:
    text = value.strip()
    return text.lower() if "email" in name.lower() else text


def identifier_pairs(names: Iterable[str], values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(name, normalised value)`` of each identifier attribute present in ``values``."""
    pairs = []
    for name in names:
        value = values.get(name)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = normalise_identifier(name, str(value))
            if text and len(text) <= MAX_IDENTIFIER_LENGTH:
                pairs.append((name, text))
    return pairs
