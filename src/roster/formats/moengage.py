"""MoEngage Bulk Import (``POST /v1/transition/{workspace_id}``) wire format.

Two steps, at two places:

* at the door, ``check_transition`` checks the envelope of the strictly-parsed body (top-level
  ``type``, a non-empty ``elements`` list of objects with a known ``type``) and counts users and
  events for the rate limiter; anything wrong here refuses the request;
* in the worker, ``decode_elements`` decodes each element on its own into a typed Struct, so a
  bad element becomes an entry in the ledger and never stops the others; ids sent as numbers
  are handed out as text.

A field neither MoEngage nor Roster knows (a typo such as ``attrs``) is ignored, as MoEngage
ignores extras, but never silently: the element comes as ``Unknown``, naming the fields, and
the ledger warns of each (``unknown_field``). The Structs forbid unknown fields, so a body
without any (the common case) is still decoded in one call; fields MoEngage documents that
Roster does not use are declared, and listed in docs/compatibility.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from roster.domain import outcomes as oc
from roster.domain.element_rules import (
    MAX_ID_LENGTH,
    Problem,
    excerpt,
    field_name,
    id_text,
    usable_id,
)
from roster.domain.errors import InvalidEnvelope, MalformedBody
from roster.domain.merges import Pair, Ref
from roster.formats import deletions
from roster.formats.strict_json import loads_strict

ELEMENT_TYPES = ("customer", "device", "event")
_KNOWN_KINDS = frozenset(ELEMENT_TYPES)
_ELEMENT = re.compile(r"^elements\[(\d+)\]")
#: Merge Users: at most 50 pairs per request (its OpenAPI), in at most 128 KB.
MAX_MERGE_PAIRS = 50
MERGE_MAX_BODY_BYTES = 128 * 1024


@dataclass(frozen=True, slots=True)
class TransitionSummary:
    """What the door learnt about a valid transition request."""

    elements: int
    users: int
    events: int


def read_transition(body: bytes) -> TransitionSummary:
    """Parse a request body strictly and check its envelope; errors name the element's index."""
    try:
        parsed = loads_strict(body)
    except MalformedBody as exc:
        found = _ELEMENT.match(exc.field or "")
        if found:
            exc.index = int(found.group(1))
        raise
    return check_transition(parsed)


DELETE_IDENTITY_TYPES = {"customer_id": "customer_id", "moengage_id": "uid"}


def read_moengage_delete(body: bytes) -> deletions.Target:
    """Delete User's body: ``identity_type`` (``customer_id``, or ``moengage_id``: Roster's
    uid) and ``identity_value``, one user a request."""
    parsed = loads_strict(body)
    if not isinstance(parsed, dict):
        raise InvalidEnvelope("the body must be a JSON object", field="$")
    kind = parsed.get("identity_type")
    if not isinstance(kind, str) or kind not in DELETE_IDENTITY_TYPES:  # {} is unhashable
        msg = f"'identity_type' must be customer_id or moengage_id, got {str(kind)[:40]!r}"
        raise InvalidEnvelope(msg, field="identity_type")
    value = parsed.get("identity_value")
    if type(value) is float and value.is_integer() and abs(value) <= 2**53:
        value = int(value)  # 5.0 is the integer 5 (JSON has one number type)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not usable_id(value):
        msg = f"'identity_value' must be a string of 1-{MAX_ID_LENGTH} characters, not blank"
        raise InvalidEnvelope(msg, field="identity_value")
    by = DELETE_IDENTITY_TYPES[kind]
    return deletions.Target(by, value, "identity_value")  # type: ignore[arg-type]


#: MoEngage's Track User, Track Event and Track Device take one element of at most 128 KB.
SINGLE_MAX_BODY_BYTES = 128 * 1024


def single_as_transition(body: bytes, element_type: str) -> tuple[bytes, TransitionSummary]:
    """One element of Track User (``customer``), Track Event (``event``) or Track Device
    (``device``) as the body of a one-element transition batch, and its summary. The body's
    ``type`` may be left out (the path says it); another type than the path's is refused."""
    parsed = loads_strict(body)
    if not isinstance(parsed, dict):
        raise InvalidEnvelope("the body must be a JSON object: one " + element_type, field="$")
    found = parsed.get("type", element_type)
    if found != element_type:
        msg = f"'type' must be {element_type!r} on this path (case-sensitive), got {excerpt(found)}"
        raise InvalidEnvelope(msg, field="type")
    if "type" in parsed:  # the element as sent, byte for byte
        element = body.removeprefix(b"\xef\xbb\xbf")
    else:
        element = msgspec.json.encode({"type": element_type, **parsed})
    summary = check_transition({"type": "transition", "elements": [{**parsed, "type": found}]})
    return b'{"type":"transition","elements":[' + element + b"]}", summary


def check_transition(body: Any) -> TransitionSummary:
    """Refuse a wrong envelope, naming the field and the rule; count what the request holds."""
    if not isinstance(body, dict):
        raise InvalidEnvelope("the body must be a JSON object", field="$")
    if "type" not in body:
        raise InvalidEnvelope("'type' is required and must be \"transition\"", field="type")
    if body["type"] != "transition":
        msg = f"'type' must be \"transition\" (case-sensitive), got {excerpt(body['type'])}"
        raise InvalidEnvelope(msg, field="type")
    elements = body.get("elements")
    if not isinstance(elements, list):
        raise InvalidEnvelope("'elements' is required and must be a list", field="elements")
    if not elements:
        raise InvalidEnvelope("'elements' must not be empty", field="elements")
    kinds = [e.get("type") if type(e) is dict else None for e in elements]
    if not _all_known(kinds):  # name the first element that breaks the rule
        for index, element in enumerate(elements):
            _element_type(element, index)
    events = 0
    for element, kind in zip(elements, kinds, strict=True):
        if kind == "event":
            actions = element.get("actions")
            events += len(actions) if type(actions) is list else 1
    users = len(elements) - kinds.count("event")
    return TransitionSummary(len(elements), users, events)


def _all_known(kinds: list[Any]) -> bool:
    try:
        return _KNOWN_KINDS.issuperset(kinds)
    except TypeError:  # a list or an object as a type: unhashable, and not a known one
        return False


def _element_type(element: Any, index: int) -> str:
    where = f"elements[{index}]"
    if not isinstance(element, dict):
        raise InvalidEnvelope(f"{where} must be an object", field=where, index=index)
    kind = element.get("type")
    if kind not in ELEMENT_TYPES:
        msg = (
            f"{where}.type must be one of customer, device, event (case-sensitive), "
            f"got {excerpt(kind)}"
        )
        raise InvalidEnvelope(msg, field=f"{where}.type", index=index)
    return str(kind)


# The element Structs below are only ever used as ``decode_elements`` hands them out, with
# every id made text by ``_ids_as_text``: mypy checks the planners against that (``str``),
# while msgspec decodes what the wire may hold (a string or an integer).
if TYPE_CHECKING:
    #: A customer or device id as ``decode_elements`` hands it out: text.
    Ident = str
else:  # as the wire may hold it, a string or an integer (``_ids_as_text`` makes it text)
    Ident = str | int


class CustomerElement(msgspec.Struct, tag_field="type", tag="customer", forbid_unknown_fields=True):
    customer_id: Ident | None = None
    attributes: dict[str, Any] | None = None
    platforms: list[Any] | None = None
    update_existing_only: bool = False
    # Documented by MoEngage's Track User, not used by Roster (docs/compatibility.md).
    addValueToArrayField: Any = None
    removeValueFromArrayField: Any = None
    unset_attributes: Any = None


class DeviceElement(msgspec.Struct, tag_field="type", tag="device", forbid_unknown_fields=True):
    customer_id: Ident | None = None
    device_id: Ident | None = None
    attributes: dict[str, Any] | None = None


_NO_ATTRIBUTES = msgspec.Raw(b"{}")


class Action(msgspec.Struct, forbid_unknown_fields=True):
    action: str | None = None
    #: The JSON text as sent (any JSON value; the worker refuses anything but an object or null).
    attributes: msgspec.Raw = _NO_ATTRIBUTES
    platform: Any = None
    app_version: Any = None
    user_time: Any = None
    current_time: Any = None
    user_timezone_offset: Any = None
    #: Documented (a TV platform's operating system), not used by Roster.
    moe_os_type: Any = None


class EventElement(msgspec.Struct, tag_field="type", tag="event", forbid_unknown_fields=True):
    customer_id: Ident | None = None
    device_id: Ident | None = None
    user_identifiers: dict[str, Any] | None = None
    actions: list[Action] | None = None


Element = CustomerElement | DeviceElement | EventElement


class Unknown(msgspec.Struct, frozen=True):
    """An element holding fields neither MoEngage nor Roster knows: decoded without them, and
    the paths of those fields (``attrs``, ``actions[0].atribute``), for the ledger's warnings."""

    element: Element
    fields: list[str]


STRUCTS: dict[str, type[Element]] = {
    "customer": CustomerElement,
    "device": DeviceElement,
    "event": EventElement,
}


class _Kind(msgspec.Struct):
    type: str


class _Envelope(msgspec.Struct):
    elements: list[msgspec.Raw]


class _Typed(msgspec.Struct):
    elements: list[Element]


def decode_elements(payload: bytes) -> Sequence[Element | Unknown | Problem]:
    """Decode each element of a stored (already door-checked) transition body; an element's
    index in the request is its index in the list. One that does not fit its Struct is the
    ``Problem`` the ledger reports (``invalid_field``, msgspec's message).

    The whole body is decoded in one call; only when some element does not fit its Struct is
    each element decoded on its own, so the bad ones are told apart from the good ones.
    """
    try:
        elements: list[Any] = msgspec.json.decode(payload, type=_Typed).elements
    except msgspec.ValidationError:
        envelope = msgspec.json.decode(payload, type=_Envelope)
        decoded = [_decode_one(raw) for raw in envelope.elements]
        _ids_as_text(
            [e.element if type(e) is Unknown else e for e in decoded if type(e) is not Problem]
        )
        return decoded
    return _ids_as_text(elements)


def _ids_as_text(elements: list[Any]) -> list[Element]:
    """The elements, their ids sent as numbers made text (see ``Ident``)."""
    for element in elements:
        if type(element.customer_id) is int:
            element.customer_id = id_text(element.customer_id)
        if type(element) is not CustomerElement and type(element.device_id) is int:
            element.device_id = id_text(element.device_id)
    return elements


def _decode_one(raw: msgspec.Raw) -> Element | Unknown | Problem:
    kind = msgspec.json.decode(raw, type=_Kind).type
    struct = STRUCTS[kind]
    try:
        return msgspec.json.decode(raw, type=struct)
    except msgspec.ValidationError as exc:
        if not str(exc).startswith("Object contains unknown field"):
            return Problem(_path_of(str(exc)), oc.INVALID_FIELD, str(exc))
    known, unknown = _without_unknown(msgspec.json.decode(raw), struct)
    try:
        element = msgspec.json.decode(msgspec.json.encode(known), type=struct)
    except msgspec.ValidationError as exc:
        return Problem(_path_of(str(exc)), oc.INVALID_FIELD, str(exc))
    return Unknown(element, unknown)


_ACTION_FIELDS = frozenset(Action.__struct_fields__)


def _without_unknown(
    element: dict[str, Any], struct: type[Element]
) -> tuple[dict[str, Any], list[str]]:
    """The element without the fields its Struct does not know, and their paths."""
    allowed = {*struct.__struct_fields__, "type"}
    unknown = [field_name(name) for name in element if name not in allowed]
    known = {k: v for k, v in element.items() if k in allowed}
    actions = known.get("actions")
    if struct is EventElement and isinstance(actions, list):
        for n, action in enumerate(actions):
            if isinstance(action, dict):
                unknown += [
                    f"actions[{n}].{field_name(k)}" for k in action if k not in _ACTION_FIELDS
                ]
                actions[n] = {k: v for k, v in action.items() if k in _ACTION_FIELDS}
    return known, unknown


def _path_of(message: str) -> str | None:
    """msgspec ends its messages with `` - at `$.field[0]` ``; return ``field[0]``."""
    _, sep, path = message.rpartition(" - at `$")
    if not sep:
        return None
    return path.rstrip("`").lstrip(".") or None


# --- Merge Users (``POST /v1/customer/merge``) ----------------------------------------------


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
    if len(pairs) > MAX_MERGE_PAIRS:
        msg = f"'merge_data' holds {len(pairs)} pairs; at most {MAX_MERGE_PAIRS} per request"
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


def merge_pairs(payload: bytes) -> list[Pair]:
    """The pairs of a stored (door-checked) Merge Users body, in request order."""
    body = msgspec.json.decode(payload)
    return [
        Pair(
            index,
            Ref("id", pair["merged_user"], f"merge_data[{index}].merged_user"),
            Ref("id", pair["retained_user"], f"merge_data[{index}].retained_user"),
        )
        for index, pair in enumerate(body["merge_data"])
    ]
