"""Customer.io's Track API devices: ``PUT /api/v1/customers/{identifier}/devices`` adds or
updates one (``{"device": {"id", "platform", "last_used", "attributes"}}``), ``DELETE
/api/v1/customers/{identifier}/devices/{device_id}`` removes one.

The door checks the body as Customer.io does (a 400 naming the field) and stores one
operation, ``{"op": "add" | "delete", "identifier", "by_email", "device"}``; the worker applies it
(``services.apply.customerio_devices``). A device's id is its push token: Roster stores it as
both the device id and the push id, its platform as ``iOS`` or ``ANDROID``, and ``last_used``
and ``attributes`` among the device's attributes.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from roster.domain.element_rules import MAX_ID_LENGTH, excerpt, usable_id
from roster.domain.errors import InvalidEnvelope
from roster.domain.platforms import canonical_platform
from roster.formats.strict_json import loads_strict

#: Customer.io's two device platforms.
PLATFORMS = ("ios", "android")


class DeviceOp(msgspec.Struct, frozen=True):
    op: Literal["add", "delete"]
    identifier: str
    by_email: bool
    device_id: str
    #: For ``add``: the canonical platform and the other fields sent, as the device's attributes.
    platform: str | None = None
    attributes: dict[str, Any] = {}


def read_add(body: bytes, identifier: str, *, by_email: bool) -> DeviceOp:
    parsed = loads_strict(body)
    return read_device(
        parsed.get("device") if isinstance(parsed, dict) else None, identifier, by_email=by_email
    )


def read_device(device: Any, identifier: str, *, by_email: bool, id_key: str = "id") -> DeviceOp:
    """The addition of the ``device`` object sent; its push token is named ``id_key`` (``id``
    in Track API v1, ``token`` in v2). Raises ``InvalidEnvelope`` naming the field."""
    if not isinstance(device, dict):
        raise InvalidEnvelope("'device' is required and must be an object", field="device")
    device_id = device.get(id_key)
    if not isinstance(device_id, str) or not usable_id(device_id):
        msg = f"'device.{id_key}' must be a string of 1-{MAX_ID_LENGTH} characters, not blank"
        raise InvalidEnvelope(msg, field=f"device.{id_key}")
    sent = device.get("platform")
    platform = canonical_platform(sent) if isinstance(sent, str) else None
    if not isinstance(sent, str) or sent.strip().lower() not in PLATFORMS or platform is None:
        msg = f"'device.platform' must be ios or android, got {excerpt(sent)}"
        raise InvalidEnvelope(msg, field="device.platform")
    extra = device.get("attributes", {})
    if not isinstance(extra, dict):
        msg = "'device.attributes' must be an object"
        raise InvalidEnvelope(msg, field="device.attributes")
    attributes = {k: v for k, v in device.items() if k not in (id_key, "platform", "attributes")}
    return DeviceOp("add", identifier, by_email, device_id, platform, {**attributes, **extra})


def read_delete(identifier: str, device_id: str, *, by_email: bool) -> DeviceOp:
    return DeviceOp("delete", identifier, by_email, device_id)


def encode(op: DeviceOp) -> bytes:
    return msgspec.json.encode(op)


def decode(payload: bytes) -> DeviceOp:
    return msgspec.json.decode(payload, type=DeviceOp)
