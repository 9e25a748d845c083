"""Customer.io's Track API v2: ``POST /api/v2/batch`` (``{"batch": [operation, ...]}``) and
``POST /api/v2/entity`` (one operation as the whole body).

An operation names a person (``"type": "person"``) by ``identifiers`` (``{"id": ...}`` or
``{"email": ...}``) and says what to do (``action``). Two steps, as for the other calls:

* at the door, ``read_request`` checks the envelope (an object; a batch's ``batch`` a non-empty
  list of objects), counts people and events for the rate limiter and stores the body (an
  entity as a batch of one);
* in the worker, ``entries_of`` reads each operation into what the v1 routes store for the
  same action, so one rule applies whichever API asked: ``identify``, ``event``, ``page`` and
  ``screen`` become ``formats.customerio`` people and events; ``delete`` a deletion target;
  ``add_device`` and ``delete_device`` device operations; ``suppress`` and ``unsuppress``
  suppressions; ``merge`` a merge pair. Customer.io answers a batch holding invalid
  operations by applying the others (its ``207``): here each invalid one fails in the ledger
  and the others are applied.

Objects, deliveries, relationships and people named by ``cio_id`` or ``phone`` are skipped
(``not_supported``): Roster keeps none of them (docs/compatibility.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from roster.domain import outcomes as oc
from roster.domain.element_rules import MAX_ID_LENGTH, excerpt, id_text, ledger_key, usable_id
from roster.domain.errors import InvalidEnvelope
from roster.domain.merges import Pair, Ref
from roster.formats import customerio as cio
from roster.formats import customerio_devices as devices_format
from roster.formats import deletions
from roster.formats.customerio_devices import DeviceOp
from roster.formats.strict_json import loads_strict

#: Where a v2 operation's parts sit, as the ledger names them.
BY_ID = cio.Fields("identifiers.id", "attributes", "attributes", "name", "attributes", "id")
BY_EMAIL = cio.Fields("identifiers.email", "attributes", "attributes", "name", "attributes", "id")

EVENT_ACTIONS = frozenset({"event", "page", "screen"})
#: Actions on one person, each read into the operation the v1 route of the same name stores.
PERSON_ACTIONS = frozenset(
    {"identify", "delete", "add_device", "delete_device", "suppress", "unsuppress", "merge"}
)
#: Documented by Customer.io, kept nothing of by Roster: the element is skipped.
UNSUPPORTED_ACTIONS = frozenset({"add_relationships", "delete_relationships"})
UNSUPPORTED_TYPES = frozenset({"object", "delivery"})
#: Every field Customer.io documents for a person operation; any other is warned of.
KNOWN_FIELDS = frozenset(
    {
        "type",
        "action",
        "identifiers",
        "attributes",
        "timestamp",
        "id",
        "name",
        "device",
        "cio_relationships",
        "primary",
        "secondary",
    }
)
#: Documented fields whose data Roster keeps nothing of: the element is applied without them,
#: with a ``not_supported`` warning.
IGNORED_FIELDS = ("cio_relationships",)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the door learnt about a valid request, and the body to store."""

    payload: bytes
    elements: int
    users: int
    events: int


def read_request(body: bytes, *, entity: bool) -> Summary:
    """Check a v2 body's envelope (errors name the field); the body stored is always a batch."""
    parsed = loads_strict(body)
    if not isinstance(parsed, dict):
        raise InvalidEnvelope("the body must be a JSON object", field="$")
    if entity:
        operations: list[Any] = [parsed]
        payload = b'{"batch":[' + body + b"]}"
    else:
        found = parsed.get("batch")
        if not isinstance(found, list):
            raise InvalidEnvelope("'batch' is required and must be a list", field="batch")
        if not found:
            raise InvalidEnvelope("'batch' must not be empty", field="batch")
        for index, element in enumerate(found):
            if not isinstance(element, dict):
                where = f"batch[{index}]"
                raise InvalidEnvelope(f"{where} must be an object", field=where, index=index)
        operations, payload = found, body
    events = sum(1 for op in operations if op.get("action") in EVENT_ACTIONS)
    return Summary(payload, len(operations), len(operations) - events, events)


@dataclass(frozen=True, slots=True)
class Refused:
    """An operation Roster does not apply: skipped (not supported) or failed (invalid)."""

    field: str | None
    code: str
    message: str
    skipped: bool = False


Operation = cio.Person | cio.Event | deletions.Target | DeviceOp | deletions.Suppression | Pair
Action = Operation | Refused


@dataclass(frozen=True, slots=True)
class Entry:
    """One operation of a batch, at ``index``, read for the worker."""

    index: int
    #: The person named, as the ledger's key.
    key: str | None
    action: Action
    #: Fields neither Customer.io documents nor Roster knows: ignored, warned of.
    unknown: tuple[str, ...] = ()
    #: Documented fields Roster keeps nothing of: ignored, warned of.
    ignored: tuple[str, ...] = ()


class _Batch(msgspec.Struct):
    batch: list[dict[str, Any]]


def entries_of(payload: bytes) -> list[Entry]:
    """The stored batch's operations, in request order."""
    operations = msgspec.json.decode(payload, type=_Batch).batch
    return [_entry(index, op) for index, op in enumerate(operations)]


def _entry(index: int, op: dict[str, Any]) -> Entry:
    unknown = tuple(name for name in op if name not in KNOWN_FIELDS)
    ignored = tuple(name for name in IGNORED_FIELDS if op.get(name) not in (None, []))
    person, key = _ref(op.get("identifiers"), "identifiers")
    action = _action(index, op, person)
    if isinstance(action, Pair):
        key = action.merged.value
    return Entry(index, key, action, unknown, ignored)


def _ref(found: Any, where: str) -> tuple[Ref | Refused, str | None]:
    if not isinstance(found, dict) or not found:
        msg = f"'{where}' must be an object naming the person by id or email"
        return Refused(where, oc.MISSING_FIELD, msg), None
    if len(found) != 1:
        msg = f"'{where}' must name the person by exactly one of id or email"
        return Refused(where, oc.INVALID_FIELD, msg), None
    ((by, value),) = found.items()
    key = ledger_key(value) if type(value) in (str, int) else None
    if by in ("cio_id", "phone"):
        msg = f"'{where}.{by}': Roster has no {by}s; name the person by id or email"
        return Refused(f"{where}.{by}", oc.NOT_SUPPORTED, msg, skipped=True), key
    if by not in ("id", "email"):
        msg = f"'{where}' must name the person by id or email, got {excerpt(by)}"
        return Refused(where, oc.INVALID_FIELD, msg), None
    text = id_text(value)
    if text is None or not usable_id(text):
        msg = f"'{where}.{by}' must be a string or integer of 1-{MAX_ID_LENGTH} characters"
        return Refused(f"{where}.{by}", oc.INVALID_FIELD, msg), key
    return Ref(by, text, f"{where}.{by}"), text


def _action(index: int, op: dict[str, Any], person: Ref | Refused) -> Action:
    kind, action = op.get("type"), op.get("action")
    if kind in UNSUPPORTED_TYPES:
        msg = f"'{kind}' operations are accepted but not applied: Roster keeps no {kind}s"
        return Refused("type", oc.NOT_SUPPORTED, msg, skipped=True)
    if kind != "person":
        msg = f"'type' must be person, object or delivery, got {excerpt(kind)}"
        return Refused("type", oc.INVALID_FIELD, msg)
    if action in UNSUPPORTED_ACTIONS:
        msg = f"'{action}' is accepted but not applied: Roster keeps no objects to relate to"
        return Refused("action", oc.NOT_SUPPORTED, msg, skipped=True)
    if action == "merge":
        return _merge(op)
    if action not in PERSON_ACTIONS and action not in EVENT_ACTIONS:
        known = ", ".join(sorted(PERSON_ACTIONS | EVENT_ACTIONS | UNSUPPORTED_ACTIONS))
        msg = f"'action' must be one of {known}, got {excerpt(action)}"
        return Refused("action", oc.INVALID_FIELD, msg)
    if isinstance(person, Refused):
        return person
    return _READERS[action](index, op, person)


def _fields(person: Ref) -> cio.Fields:
    return BY_EMAIL if person.by == "email" else BY_ID


def _identify(index: int, op: dict[str, Any], person: Ref) -> Action:
    """As ``PUT /api/v1/customers/{identifier}``: ``attributes`` hold the values (``_update``
    and an ``id`` that changes a person found by email, as in v1), ``timestamp`` the source
    time."""
    sent = op.get("attributes")
    attributes: Any = {} if sent is None else sent
    update_only, body_id = False, None
    if isinstance(attributes, dict):
        update_only = attributes.get("_update") is True
        body_id = id_text(attributes.get("id"))
        attributes = {k: v for k, v in attributes.items() if k not in cio.V1_RESERVED}
    return cio.Person(
        index,
        person.value,
        person.by == "email",
        attributes,
        op.get("timestamp"),
        "timestamp",
        update_only,
        body_id,
        fields=_fields(person),
    )


def _event(index: int, op: dict[str, Any], person: Ref) -> Action:
    data = op.get("attributes")
    properties = "{}" if data is None else msgspec.json.encode(data).decode()
    source_id = op.get("id")
    source_id = id_text(source_id) if type(source_id) is int else source_id
    return cio.Event(
        index,
        person.value,
        person.by == "email",
        op["action"],
        op.get("name"),
        properties,
        op.get("timestamp"),
        source_id,
        fields=_fields(person),
    )


def _target(person: Ref) -> deletions.Target:
    by: deletions.By = "email" if person.by == "email" else "customer_id"
    return deletions.Target(by, person.value, person.field)


def _delete(index: int, op: dict[str, Any], person: Ref) -> Action:
    return _target(person)


def _suppression(index: int, op: dict[str, Any], person: Ref) -> Action:
    return deletions.Suppression(op["action"], _target(person))


def _add_device(index: int, op: dict[str, Any], person: Ref) -> Action:
    by_email = person.by == "email"
    try:
        return devices_format.read_device(
            op.get("device"), person.value, by_email=by_email, id_key="token"
        )
    except InvalidEnvelope as refused:
        return Refused(refused.field, oc.INVALID_FIELD, refused.message)


def _delete_device(index: int, op: dict[str, Any], person: Ref) -> Action:
    device = op.get("device")
    token = device.get("token") if isinstance(device, dict) else None
    if not isinstance(token, str) or not usable_id(token):
        msg = f"'device.token' must be a string of 1-{MAX_ID_LENGTH} characters, not blank"
        return Refused("device.token", oc.INVALID_FIELD, msg)
    return devices_format.read_delete(person.value, token, by_email=person.by == "email")


def _merge(op: dict[str, Any]) -> Action:
    """``primary`` and ``secondary``, each naming a person by id or email: the secondary is
    merged into the primary (a pair at index 0 of its own ledger)."""
    secondary, _ = _ref(op.get("secondary"), "secondary")
    primary, _ = _ref(op.get("primary"), "primary")
    for side in (primary, secondary):
        if isinstance(side, Refused):
            return side
    assert isinstance(secondary, Ref)
    assert isinstance(primary, Ref)
    return Pair(0, secondary, primary)


_READERS = {
    "identify": _identify,
    "event": _event,
    "page": _event,
    "screen": _event,
    "delete": _delete,
    "add_device": _add_device,
    "delete_device": _delete_device,
    "suppress": _suppression,
    "unsuppress": _suppression,
}
