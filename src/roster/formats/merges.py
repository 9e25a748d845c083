"""Merge requests on the wire: MoEngage Merge Users and Customer.io merge_customers.

At the door, ``read_moengage_merge`` and ``read_customerio_merge`` check the strictly parsed
body as the vendors do (a refused body is a 400 naming the field); in the worker, ``pairs_of``
reads a stored body into ``Pair`` values, in request order, whichever vendor it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from roster.domain.errors import InvalidEnvelope
from roster.formats.strict_json import loads_strict

#: MoEngage: at most 50 pairs per request (its OpenAPI), in at most 128 KB.
MAX_PAIRS = 50
MAX_BODY_BYTES = 128 * 1024
#: Customer.io: a person is named by exactly one of these.
CIO_KEYS = ("id", "email")

MOENGAGE = "moengage.merge"
CUSTOMERIO = "customerio.merge"


@dataclass(frozen=True, slots=True)
class Ref:
    """A customer as a merge request names it: by customer id, or (Customer.io) by email."""

    by: str  # "id" or "email"
    value: Any
    field: str


@dataclass(frozen=True, slots=True)
class Pair:
    index: int
    merged: Ref
    retained: Ref


def read_moengage_merge(body: bytes) -> int:
    """Check a Merge Users body; the number of pairs."""
    parsed = loads_strict(body)
    if not isinstance(parsed, dict):
        raise InvalidEnvelope("the body must be a JSON object", field="$")
    pairs = parsed.get("merge_data")
    if not isinstance(pairs, list):
        raise InvalidEnvelope("'merge_data' is required and must be a list", field="merge_data")
    if not pairs:
        raise InvalidEnvelope("'merge_data' must not be empty", field="merge_data")
    if len(pairs) > MAX_PAIRS:
        msg = f"'merge_data' holds {len(pairs)} pairs; at most {MAX_PAIRS} per request"
        raise InvalidEnvelope(msg, field="merge_data")
    for index, pair in enumerate(pairs):
        where = f"merge_data[{index}]"
        if not isinstance(pair, dict):
            raise InvalidEnvelope(f"{where} must be an object", field=where, index=index)
        for name in ("merged_user", "retained_user"):
            if not isinstance(pair.get(name), str):
                msg = f"{where}.{name} is expected to be String or Unicode String."
                raise InvalidEnvelope(msg, field=f"{where}.{name}", index=index)
    return len(pairs)


def read_customerio_merge(body: bytes) -> None:
    """Check a merge_customers body: ``primary`` and ``secondary``, each an object naming a
    person by exactly one of ``id`` or ``email`` (a string)."""
    parsed = loads_strict(body)
    if not isinstance(parsed, dict):
        raise InvalidEnvelope("the body must be a JSON object", field="$")
    for side in ("primary", "secondary"):
        person = parsed.get(side)
        if not isinstance(person, dict):
            raise InvalidEnvelope(f"'{side}' is required and must be an object", field=side)
        if "cio_id" in person:
            msg = f"'{side}.cio_id': Roster has no cio ids; name the person by id or email"
            raise InvalidEnvelope(msg, field=f"{side}.cio_id")
        given = [k for k in CIO_KEYS if k in person]
        if len(given) != 1:
            msg = f"'{side}' must name the person by exactly one of id or email"
            raise InvalidEnvelope(msg, field=side)
        value = person[given[0]]
        if not isinstance(value, str | int) or isinstance(value, bool):
            msg = f"'{side}.{given[0]}' must be a string"
            raise InvalidEnvelope(msg, field=f"{side}.{given[0]}")


def pairs_of(kind: str, payload: bytes) -> list[Pair]:
    """The pairs of a stored (door-checked) merge body, in request order."""
    body = msgspec.json.decode(payload)
    if kind == MOENGAGE:
        return [
            Pair(
                index,
                Ref("id", pair["merged_user"], f"merge_data[{index}].merged_user"),
                Ref("id", pair["retained_user"], f"merge_data[{index}].retained_user"),
            )
            for index, pair in enumerate(body["merge_data"])
        ]
    refs = []
    for side in ("secondary", "primary"):
        by = next(k for k in CIO_KEYS if k in body[side])
        value = body[side][by]
        refs.append(Ref(by, value if isinstance(value, str) else str(value), f"{side}.{by}"))
    return [Pair(0, refs[0], refs[1])]
