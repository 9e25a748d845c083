"""The stored form of a person deletion (and of Customer.io's suppress and unsuppress, which
delete too), whichever vendor's call asked for it.

Customer.io's ``DELETE /api/v1/customers/{identifier}`` names the person by id or (an
identifier holding ``@``) by email; MoEngage's Delete User by ``customer_id`` or
``moengage_id`` (Roster's ``uid``). The door reads the vendor's request into one target,
``{"by": "customer_id" | "email" | "uid", "value": ...}``, stored as the batch's body.
"""

from __future__ import annotations

from typing import Literal

import msgspec

By = Literal["customer_id", "email", "uid"]


class Target(msgspec.Struct, frozen=True):
    by: By
    value: str
    #: Where the request named the person (``identifier``, ``identity_value``), for the ledger.
    field: str


def encode(target: Target) -> bytes:
    return msgspec.json.encode(target)


def decode(payload: bytes) -> Target:
    return msgspec.json.decode(payload, type=Target)


class Suppression(msgspec.Struct, frozen=True):
    """Customer.io's suppress (delete the person, keep its identifier out) or unsuppress."""

    op: Literal["suppress", "unsuppress"]
    target: Target


def encode_suppression(found: Suppression) -> bytes:
    return msgspec.json.encode(found)


def decode_suppression(payload: bytes) -> Suppression:
    return msgspec.json.decode(payload, type=Suppression)
