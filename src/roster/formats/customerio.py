"""Customer.io's wire formats: Data Pipelines calls and Track API v1 requests.

Two steps, at two places, as for MoEngage:

* at the door, ``read_call`` checks the strictly parsed body's envelope (an object; for
  ``/v1/batch`` a non-empty ``batch`` list of objects with a known ``type``), counts users and
  events for the rate limiter, and wraps the body as sent with what the path said
  (``stored_call``): which call it was, and the Track API v1 path's identifier;
* in the worker, ``operations_of`` reads a stored call into ``Person`` and ``Event``
  operations, in request order. What an operation says (a missing ``userId``, a bad
  ``timestamp``) is judged by the worker, into the ledger.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgspec

from roster.domain.element_rules import excerpt, id_text
from roster.domain.errors import InvalidEnvelope
from roster.domain.merges import Pair, Ref
from roster.formats.strict_json import loads_strict

#: Data Pipelines calls and the element types of ``/v1/batch``.
PERSON_CALLS = frozenset({"identify"})
EVENT_CALLS = frozenset({"track", "page", "screen"})
#: Calls Roster accepts but does not apply: none today (each would be skipped, with its reason).
UNSUPPORTED_CALLS: frozenset[str] = frozenset()
#: ``group``: the person joins the group ``groupId``, whose traits it sets.
GROUP_CALLS = frozenset({"group"})
#: ``alias``: the ``previousId``'s profile is merged into the ``userId``'s.
ALIAS_CALLS = frozenset({"alias"})
BATCH_TYPES = PERSON_CALLS | EVENT_CALLS | UNSUPPORTED_CALLS | ALIAS_CALLS | GROUP_CALLS
#: Track API v1: a person (``PUT /api/v1/customers/{id}``) and an event of one.
V1_PERSON = "person"
V1_EVENT = "event"
V1_ANONYMOUS_EVENT = "anonymous_event"
#: Attributes of a Track API v1 body that are directives or identifiers, never stored as such.
V1_RESERVED = frozenset({"_timestamp", "_update", "id", "cio_id", "anonymous_id"})
#: merge_customers: a person is named by exactly one of these.
MERGE_KEYS = ("id", "email")

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Fields:
    """Where a call's parts sit in what the client sent, as the ledger names them: the same
    person or event is written differently by Data Pipelines, Track API v1 and v2."""

    identifier: str
    #: The object of attributes as a whole (``$``: the whole body).
    attributes: str
    #: Each attribute is named ``prefix.name``.
    prefix: str
    #: A ``track`` event's name (a page or screen is named by ``name``).
    track_name: str
    data: str
    event_id: str


PIPELINES = Fields("userId", "traits", "traits", "event", "properties", "messageId")
TRACK_V1 = Fields("identifier", "$", "attributes", "name", "data", "id")


@dataclass(frozen=True, slots=True)
class CallSummary:
    """What the door learnt about a valid call."""

    elements: int
    users: int
    events: int


def read_call(call: str, body: bytes) -> CallSummary:
    """Parse a body strictly and check its envelope for ``call``; errors name the field."""
    parsed = loads_strict(body)
    if not isinstance(parsed, dict):
        raise InvalidEnvelope("the body must be a JSON object", field="$")
    if call != "batch":
        users = 1 if call in PERSON_CALLS or call in ALIAS_CALLS or call == V1_PERSON else 0
        return CallSummary(1, users, 1 - users)
    elements = parsed.get("batch")
    if not isinstance(elements, list):
        raise InvalidEnvelope("'batch' is required and must be a list", field="batch")
    if not elements:
        raise InvalidEnvelope("'batch' must not be empty", field="batch")
    kinds: Counter[str] = Counter()
    for index, element in enumerate(elements):
        where = f"batch[{index}]"
        if not isinstance(element, dict):
            raise InvalidEnvelope(f"{where} must be an object", field=where, index=index)
        kind = element.get("type")
        if not isinstance(kind, str) or kind not in BATCH_TYPES:
            known = ", ".join(sorted(BATCH_TYPES))
            msg = f"{where}.type must be one of {known} (case-sensitive), got {excerpt(kind)}"
            raise InvalidEnvelope(msg, field=f"{where}.type", index=index)
        kinds[kind] += 1
    users = sum(kinds[k] for k in PERSON_CALLS | ALIAS_CALLS)
    events = sum(kinds[k] for k in EVENT_CALLS)
    return CallSummary(len(elements), users, events)


def stored_call(call: str, body: bytes, identifier: str | None = None) -> bytes:
    """The stored batch of a call: its name, the Track API v1 path's identifier and the body
    as sent (already checked strictly, so it nests as it is)."""
    head = b'{"call":' + _encode(call)
    if identifier is not None:
        head += b',"identifier":' + _encode(identifier)
    return head + b',"body":' + body + b"}"


_NO_OBJECT = msgspec.Raw(b"{}")


class Message(msgspec.Struct, forbid_unknown_fields=True):
    """A Data Pipelines (Segment spec) message; every field as sent, judged by the worker.

    It forbids fields the spec does not name, so a message with a typo (``trats``) is read
    again without them and its operation names them (``unknown``), for the ledger's
    ``unknown_field`` warnings; a body without any is still decoded in one call. The spec's
    fields Roster does not use are declared below (docs/compatibility.md lists them)."""

    type: Any = None
    userId: Any = None
    anonymousId: Any = None
    traits: Any = None
    event: Any = None
    name: Any = None
    #: The JSON text as sent (the worker refuses anything but an object or null).
    properties: msgspec.Raw = _NO_OBJECT
    timestamp: Any = None
    messageId: Any = None
    # The Segment spec's other fields: taken, not used.
    context: Any = None
    integrations: Any = None
    sentAt: Any = None
    receivedAt: Any = None
    originalTimestamp: Any = None
    version: Any = None
    channel: Any = None
    category: Any = None
    groupId: Any = None
    previousId: Any = None
    writeKey: Any = None
    _metadata: Any = None
    projectId: Any = None
    options: Any = None


_MESSAGE_FIELDS = frozenset(Message.__struct_fields__)


class _Batch(msgspec.Struct):
    batch: list[Message]


class _RawBatch(msgspec.Struct):
    batch: list[msgspec.Raw]


class V1Event(msgspec.Struct):
    """``POST /api/v1/customers/{identifier}/events`` (and ``POST /api/v1/events``, an
    anonymous event, with ``anonymous_id``)."""

    name: Any = None
    anonymous_id: Any = None
    id: Any = None
    type: Any = "event"
    timestamp: Any = None
    data: msgspec.Raw = _NO_OBJECT


class _Stored(msgspec.Struct):
    call: str
    body: msgspec.Raw
    identifier: str | None = None


class Person(msgspec.Struct, frozen=True, gc=False):
    """Set a person's attributes (``identify``, ``PUT /api/v1/customers/{id}``)."""

    index: int
    #: ``userId`` or the path's identifier, as sent (a number is made a string: ``_sent_id``).
    identifier: Any
    #: The identifier is an email address (Track API v1 paths only).
    by_email: bool
    #: ``traits`` or the v1 body without its directives; anything but an object is refused.
    attributes: Any
    #: ``_timestamp`` if given, else the message's ``timestamp`` (may be ``None``).
    timestamp: Any
    #: Which field the timestamp came from, for the ledger.
    timestamp_field: str
    update_only: bool
    #: A Track API v1 body's ``id`` as text (``None`` if absent, or neither text nor a number).
    body_id: str | None = None
    #: Where its parts sat in the request (Data Pipelines, Track API v1 or v2).
    fields: Fields = PIPELINES
    #: ``anonymousId`` as sent: an identify without ``userId`` sets the anonymous profile's
    #: traits; with both, the anonymous profile is merged into the person.
    anonymous_id: Any = None
    #: Fields of the message the spec does not name (ignored, warned of).
    unknown: tuple[str, ...] = ()


class Event(msgspec.Struct, frozen=True, gc=False):
    """Store an event of a person (``track``, ``page``, ``screen``, v1 events)."""

    index: int
    identifier: Any
    by_email: bool
    #: ``track``, ``page`` or ``screen`` (a v1 event's ``type``, as sent: judged by the worker).
    call: Any
    name: Any
    #: The properties (``data`` in v1) as the JSON text sent.
    properties: str
    timestamp: Any
    #: ``messageId`` (Data Pipelines) or ``id`` (Track API v1), as sent (a number is made a
    #: string): deduplicated per workspace.
    source_id: Any
    fields: Fields = PIPELINES
    #: ``anonymousId`` (``anonymous_id`` in v1) as sent: without a person, the event is the
    #: anonymous profile's.
    anonymous_id: Any = None
    #: Fields of the message the spec does not name (ignored, warned of).
    unknown: tuple[str, ...] = ()


class Unsupported(msgspec.Struct, frozen=True, gc=False):
    """A call Roster accepts but does not apply."""

    index: int
    call: str
    identifier: Any
    unknown: tuple[str, ...] = ()


class Alias(msgspec.Struct, frozen=True, gc=False):
    """Merge the profile ``previousId`` names (a person, or an anonymous profile) into the
    person ``userId`` names."""

    index: int
    identifier: Any
    previous_id: Any
    unknown: tuple[str, ...] = ()


class GroupCall(msgspec.Struct, frozen=True, gc=False):
    """Make the person (``userId``, or ``anonymousId``) a member of the group ``groupId`` and
    set the group's ``traits``."""

    index: int
    identifier: Any
    group_id: Any
    traits: Any
    timestamp: Any
    anonymous_id: Any = None
    unknown: tuple[str, ...] = ()


Operation = Person | Event | Unsupported | Alias | GroupCall


def operations_of(payload: bytes) -> list[Operation]:
    """The operations of a stored call, in request order (index = position in the request)."""
    stored = msgspec.json.decode(payload, type=_Stored)
    body = stored.body
    if stored.call == "batch":
        try:
            messages = msgspec.json.decode(body, type=_Batch).batch
        except msgspec.ValidationError:  # a message holds a field the spec does not name
            raws = msgspec.json.decode(body, type=_RawBatch).batch
            return [_read_message(i, raw, None) for i, raw in enumerate(raws)]
        return [_message(i, m, m.type) for i, m in enumerate(messages)]
    if stored.call == V1_PERSON:
        return [_v1_person(stored.identifier, msgspec.json.decode(body))]
    if stored.call == V1_EVENT:
        return [_v1_event(stored.identifier, msgspec.json.decode(body, type=V1Event))]
    if stored.call == V1_ANONYMOUS_EVENT:
        event = msgspec.json.decode(body, type=V1Event)
        return [msgspec.structs.replace(_v1_event(None, event), anonymous_id=event.anonymous_id)]
    return [_read_message(0, body, stored.call)]


def _read_message(index: int, raw: msgspec.Raw, call: str | None) -> Operation:
    """One message, read again without the fields the spec does not name if it has some."""
    try:
        m = msgspec.json.decode(raw, type=Message)
        return _message(index, m, m.type if call is None else call)
    except msgspec.ValidationError:
        found = msgspec.json.decode(raw)
        known = {k: v for k, v in found.items() if k in _MESSAGE_FIELDS}
        m = msgspec.json.decode(msgspec.json.encode(known), type=Message)
        op = _message(index, m, m.type if call is None else call)
        unknown = tuple(k for k in found if k not in _MESSAGE_FIELDS)
        return msgspec.structs.replace(op, unknown=unknown)


def _message(index: int, m: Message, call: Any) -> Operation:
    user_id = _sent_id(m.userId)
    if call in EVENT_CALLS:
        name = m.event if call == "track" else m.name
        if name is None and call != "track":
            name = _page_name(m.properties) or call
        properties = bytes(m.properties).decode()
        sid = _sent_id(m.messageId)
        anon = _sent_id(m.anonymousId)
        return Event(
            index, user_id, False, call, name, properties, m.timestamp, sid, PIPELINES, anon
        )
    if call in PERSON_CALLS:
        traits = m.traits if m.traits is not None else {}
        stamp, where = m.timestamp, "timestamp"
        update_only = False
        if isinstance(traits, dict):
            if traits.get("_timestamp") is not None:
                stamp, where = traits["_timestamp"], "traits._timestamp"
            update_only = traits.get("_update") is True
        anon = _sent_id(m.anonymousId)
        return Person(
            index, user_id, False, traits, stamp, where, update_only, None, PIPELINES, anon
        )
    if call in ALIAS_CALLS:
        return Alias(index, user_id, _sent_id(m.previousId))
    if call in GROUP_CALLS:
        anon = _sent_id(m.anonymousId)
        return GroupCall(index, user_id, _sent_id(m.groupId), m.traits, m.timestamp, anon)
    return Unsupported(index, str(call), user_id)


def _sent_id(value: Any) -> Any:
    """An id as sent, one sent as a number made text; anything else is kept as sent, for the
    worker to refuse showing what was sent."""
    return id_text(value) if type(value) is int else value


def _page_name(properties: msgspec.Raw) -> str | None:
    """A page view without a ``name`` is named by its ``properties.url``, as Customer.io
    names page views."""
    try:
        found = msgspec.json.decode(properties)
    except msgspec.DecodeError:  # pragma: no cover - checked at the door
        return None
    url = found.get("url") if isinstance(found, dict) else None
    return url if isinstance(url, str) and url.strip() else None


def _v1_person(identifier: str | None, body: dict[str, Any]) -> Person:
    attributes = {k: v for k, v in body.items() if k not in V1_RESERVED}
    return Person(
        0,
        identifier,
        is_email(identifier),
        attributes,
        body.get("_timestamp"),
        "_timestamp",
        body.get("_update") is True,
        id_text(body.get("id")),
        fields=TRACK_V1,
    )


def _v1_event(identifier: str | None, body: V1Event) -> Event:
    data = bytes(body.data).decode()
    return Event(
        0,
        identifier,
        is_email(identifier),
        body.type,
        body.name,
        data,
        body.timestamp,
        _sent_id(body.id),
        fields=TRACK_V1,
    )


def is_email(identifier: str | None) -> bool:
    """A Track API v1 path identifier that is an email address finds the person by email."""
    return identifier is not None and "@" in identifier


# --- merge_customers (``POST /api/v1/merge_customers``) --------------------------------------


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
        given = [k for k in MERGE_KEYS if k in person]
        if len(given) != 1:
            msg = f"'{side}' must name the person by exactly one of id or email"
            raise InvalidEnvelope(msg, field=side)
        if _merge_id(person[given[0]]) is None:  # a string, or an integer (made text)
            msg = f"'{side}.{given[0]}' must be a string"
            raise InvalidEnvelope(msg, field=f"{side}.{given[0]}")


def _merge_id(value: Any) -> str | None:
    """A merge side's id as text: a string, or an integer, also written as a whole number with a
    fraction (``5.0``: JSON has one number type)."""
    if type(value) is float and value.is_integer() and abs(value) <= 2**53:
        value = int(value)
    return id_text(value)


def merge_pair(payload: bytes) -> list[Pair]:
    """The one pair of a stored (door-checked) merge_customers body: secondary into primary."""
    body = msgspec.json.decode(payload)
    refs = []
    for side in ("secondary", "primary"):
        by = next(k for k in MERGE_KEYS if k in body[side])
        refs.append(Ref(by, _merge_id(body[side][by]), f"{side}.{by}"))
    return [Pair(0, refs[0], refs[1])]
