"""OpenAPI descriptions of the bodies the bulk endpoints read themselves (msgspec schemas)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class _Platform(msgspec.Struct):
    platform: str
    active: str | bool = True


class _Customer(msgspec.Struct, tag_field="type", tag="customer"):
    customer_id: str | int | None = None
    attributes: dict[str, Any] | None = None
    platforms: list[_Platform] | None = None
    update_existing_only: bool = False


class _Device(msgspec.Struct, tag_field="type", tag="device"):
    customer_id: str | int
    device_id: str | int
    attributes: dict[str, Any]


class _Action(msgspec.Struct):
    action: str
    attributes: dict[str, Any] | None = None
    platform: str | None = None
    app_version: str | None = None
    user_time: str | int | float | None = None
    current_time: str | int | float | None = None
    user_timezone_offset: int | str | None = None


class _Event(msgspec.Struct, tag_field="type", tag="event"):
    customer_id: str | int | None = None
    device_id: str | int | None = None
    user_identifiers: dict[str, Any] | None = None
    actions: list[_Action] | None = None


def _expected(struct: Any) -> dict[str, Any]:
    """The shape ``struct`` describes, as a JSON schema standing alone (no ``$ref``)."""
    (schema,), components = msgspec.json.schema_components(
        [struct], ref_template="#/components/schemas/{name}"
    )
    inlined: dict[str, Any] = _inline(schema, components)
    return inlined


def _inline(schema: Any, components: dict[str, Any]) -> Any:
    """Replace ``$ref``s by their definitions so the schema stands alone in the operation."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str):
            return _inline(components[ref.rsplit("/", 1)[-1]], components)
        return {k: _inline(v, components) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, components) for v in schema]
    return schema


def body(schema: dict[str, Any]) -> dict[str, Any]:
    """A required JSON request body of ``schema``."""
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# --- what the door checks, and the ledger marks ---------------------------------------------

#: Marks a shape the door does not check field by field: a problem in it (a missing or mistyped
#: field) is reported for its element in the batch's ledger, never refused. Its schema takes
#: any strict JSON; the shape the worker expects is documented under ``x-roster-expected``.
LEDGER = "x-roster-ledger"
EXPECTED = "x-roster-expected"
LEDGER_NOTE = (
    "Checked per element by the worker: a missing or mistyped field is reported in the batch's "
    "ledger, not refused (x-roster-ledger); the fields expected are under x-roster-expected."
)
#: Python's ``str.isspace`` characters: an id must hold another one (``element_rules.usable_id``).
_SPACE = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
USABLE_ID: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": f"^[^\\u0000]*[^\\u0000{_SPACE}][^\\u0000]*$",
    "description": "not blank, at most 255 characters",
}


def ledger(
    expected: Any, *, properties: dict[str, Any] | None = None, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """An element the door takes as any object (but for ``properties``, which it checks)."""
    schema: dict[str, Any] = {"type": "object", "description": LEDGER_NOTE, LEDGER: True}
    if properties:
        schema["properties"] = properties
    if required:
        schema["required"] = list(required)
    schema[EXPECTED] = expected if isinstance(expected, dict) else _expected(expected)
    return schema


def ledger_entry(expected: Any) -> dict[str, Any]:
    """An entry the door takes as any JSON value (a problem in it is the ledger's)."""
    return {"description": LEDGER_NOTE, LEDGER: True, EXPECTED: _expected(expected)}


def _list(items: dict[str, Any], *, least: int = 1, most: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items, "minItems": least}
    if most is not None:
        schema["maxItems"] = most
    return schema


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


_ELEMENT_TYPES = ["customer", "device", "event"]
TRANSITION_REQUEST = body(
    _object(
        {
            "type": {"enum": ["transition"]},
            "elements": _list(
                ledger(
                    _Customer | _Device | _Event,
                    properties={"type": {"enum": _ELEMENT_TYPES}},
                    required=("type",),
                )
            ),
        },
        "type",
        "elements",
    )
)
#: MoEngage's Track User, Track Event, Track Device: one element (``type`` may be left out).
SINGLE_REQUESTS = {
    kind: body(ledger(struct, properties={"type": {"enum": [kind]}}))
    for kind, struct in (("customer", _Customer), ("event", _Event), ("device", _Device))
}
DELETE_USER_REQUEST = body(
    _object(
        {
            "identity_type": {"enum": ["customer_id", "moengage_id"]},
            "identity_value": {"anyOf": [USABLE_ID, {"type": "integer"}]},
        },
        "identity_type",
        "identity_value",
    )
)


# --- Masivo loyalty migration (what the docs show; unknown fields are accepted) ---------------


class _Balance(msgspec.Struct):
    reward_id: str
    amount: float
    expiration_date: str | None = None


class _MigratedCustomer(msgspec.Struct):
    id: str
    name: str | None = None
    email: str | None = None
    gender: str | None = None
    dob: str | None = None
    registration_date: str | None = None
    document_type: str | None = None
    document_number: str | None = None
    country: str | None = None
    balance: list[_Balance] | None = None
    metrics: dict[str, Any] | None = None


class _Order(msgspec.Struct):
    purchase_id: str | None = None
    value: float | None = None


class _MigratedEvent(msgspec.Struct):
    type: str
    issued_at: str
    order: _Order | None = None
    fulfilled: bool | None = None
    resolved_at: str | None = None


class _CustomerEvents(msgspec.Struct):
    id: str
    events: list[_MigratedEvent]


class _Transaction(msgspec.Struct):
    type: Literal["ACCUMULATION", "REDEMPTION", "EXPIRATION", "MIGRATION", "TRANSFER", "REVERSAL"]
    amount: float
    reward_id: str
    issued_at: str | None = None
    resolved_at: str | None = None
    details: str | None = None


class _CustomerTransactions(msgspec.Struct):
    id: str
    transactions: list[_Transaction]


#: The door checks the envelope (``formats.masivo``): 1 to 1000 customers, each with a usable id
#: (and its list of events, at least one, or of transactions; at most 1000 in all).
_MASIVO_ID = {"id": USABLE_ID}
MIGRATE_CUSTOMERS_REQUEST = body(
    _object(
        {
            "customers": _list(
                ledger(_MigratedCustomer, properties=_MASIVO_ID, required=("id",)), most=1000
            )
        },
        "customers",
    )
)
MIGRATE_EVENTS_REQUEST = body(
    _object(
        {
            "customers": _list(
                _object(
                    {**_MASIVO_ID, "events": _list(ledger_entry(_MigratedEvent))}, "id", "events"
                ),
                most=1000,
            )
        },
        "customers",
    )
)
MIGRATE_TRANSACTIONS_REQUEST = body(
    _object(
        {
            "customers": _list(
                _object(
                    {**_MASIVO_ID, "transactions": _list(ledger_entry(_Transaction), least=0)},
                    "id",
                    "transactions",
                ),
                most=1000,
            )
        },
        "customers",
    )
)
REVERT_REQUEST = body(_object({"customers": _list(USABLE_ID, most=1000)}, "customers"))
LIVE_TRANSACTION_REQUEST = body(ledger(_Transaction))


# --- Customer.io (what the docs show; unknown fields such as context are accepted) -----------

Stamp = str | int | float


class Identify(msgspec.Struct):
    userId: str | int
    traits: dict[str, Any] | None = None
    timestamp: Stamp | None = None
    messageId: str | None = None


class Track(msgspec.Struct):
    userId: str | int
    event: str
    properties: dict[str, Any] | None = None
    timestamp: Stamp | None = None
    messageId: str | None = None


class Page(msgspec.Struct):
    userId: str | int
    name: str | None = None
    properties: dict[str, Any] | None = None
    timestamp: Stamp | None = None
    messageId: str | None = None


class Alias(msgspec.Struct):
    userId: str | int
    previousId: str | int
    timestamp: Stamp | None = None
    messageId: str | None = None


class Group(msgspec.Struct):
    userId: str | int
    groupId: str | int
    traits: dict[str, Any] | None = None
    timestamp: Stamp | None = None
    messageId: str | None = None


class _BatchIdentify(Identify, tag_field="type", tag="identify"):
    pass


class _BatchTrack(Track, tag_field="type", tag="track"):
    pass


class _BatchPage(Page, tag_field="type", tag="page"):
    pass


class _BatchScreen(Page, tag_field="type", tag="screen"):
    pass


class _BatchAlias(Alias, tag_field="type", tag="alias"):
    pass


class _BatchGroup(Group, tag_field="type", tag="group"):
    pass


class V1Event(msgspec.Struct):
    name: str
    id: str | None = None
    type: Literal["event", "page", "screen"] = "event"
    timestamp: Stamp | None = None
    data: dict[str, Any] | None = None


_V1_PERSON_EXPECTED = {
    "type": "object",
    "description": "Attributes, plus the directives _timestamp (when the update happened) and "
    "_update (true: never create), and email, created_at.",
    "properties": {
        "email": {"type": "string"},
        "created_at": {"type": "integer"},
        "_timestamp": {"type": ["integer", "string"]},
        "_update": {"type": "boolean"},
    },
}
#: Customer.io's calls: the door checks a JSON object (``formats.customerio.read_call``); for
#: ``/v1/batch`` a non-empty ``batch`` of objects with a known ``type``. All else is the ledger's.
V1_PERSON_REQUEST = body(ledger(_V1_PERSON_EXPECTED))
_BATCH_TYPES = ["identify", "track", "page", "screen", "alias", "group"]
PIPELINES_REQUESTS = {
    "identify": body(ledger(Identify)),
    "track": body(ledger(Track)),
    "page": body(ledger(Page)),
    "screen": body(ledger(Page)),
    "alias": body(ledger(Alias)),
    "group": body(ledger(Group)),
    "batch": body(
        _object(
            {
                "batch": _list(
                    ledger(
                        _BatchIdentify
                        | _BatchTrack
                        | _BatchPage
                        | _BatchScreen
                        | _BatchAlias
                        | _BatchGroup,
                        properties={"type": {"enum": _BATCH_TYPES}},
                        required=("type",),
                    )
                )
            },
            "batch",
        )
    ),
}
V1_EVENT_REQUEST = body(ledger(V1Event))
V1_ANONYMOUS_EVENT_REQUEST = body(ledger(V1Event))
#: Track API v1 devices (``formats.customerio_devices``): checked whole at the door.
V1_DEVICE_REQUEST = body(
    _object(
        {
            "device": _object(
                {
                    "id": {**USABLE_ID, "description": "the push token"},
                    "platform": {"enum": ["ios", "android"]},
                    "last_used": {"description": "kept among the device's attributes"},
                    "attributes": {"type": "object"},
                },
                "id",
                "platform",
            )
        },
        "device",
    )
)
CSV_REQUEST = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
    },
}


#: Merge Users (``formats.moengage.read_moengage_merge``): 1 to 50 pairs of strings; whether each
#: names someone is the ledger's.
MERGE_REQUEST = body(
    _object(
        {
            "merge_data": _list(
                _object(
                    {"merged_user": {"type": "string"}, "retained_user": {"type": "string"}},
                    "merged_user",
                    "retained_user",
                ),
                most=50,
            )
        },
        "merge_data",
    )
)
#: merge_customers (``formats.customerio.read_customerio_merge``): each side names a person by
#: exactly one of ``id`` or ``email`` (a string or an integer), never by ``cio_id``.
_CIO_PERSON = {
    "type": "object",
    "properties": {
        "id": {"type": ["string", "integer"]},
        "email": {"type": ["string", "integer"]},
        "cio_id": False,
    },
    "oneOf": [{"required": ["id"]}, {"required": ["email"]}],
}
V1_MERGE_REQUEST = body(
    _object({"primary": _CIO_PERSON, "secondary": dict(_CIO_PERSON)}, "primary", "secondary")
)
