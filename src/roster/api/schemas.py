"""OpenAPI descriptions of the bodies the bulk endpoints read themselves (msgspec schemas)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

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


class Transition(msgspec.Struct):
    type: Literal["transition"]
    elements: list[_Customer | _Device | _Event]


def _request_body(struct: type[msgspec.Struct]) -> dict[str, Any]:
    (schema,), components = msgspec.json.schema_components(
        [struct], ref_template="#/components/schemas/{name}"
    )
    schema = {**schema, "$defs": components} if components else schema
    return {
        "required": True,
        "content": {"application/json": {"schema": _inline(schema, components)}},
    }


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


TRANSITION_REQUEST = _request_body(Transition)


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


class MigrateCustomers(msgspec.Struct):
    customers: list[_MigratedCustomer]


class MigrateEvents(msgspec.Struct):
    customers: list[_CustomerEvents]


class MigrateTransactions(msgspec.Struct):
    customers: list[_CustomerTransactions]


class RevertCustomers(msgspec.Struct):
    customers: list[str]


MIGRATE_CUSTOMERS_REQUEST = _request_body(MigrateCustomers)
MIGRATE_EVENTS_REQUEST = _request_body(MigrateEvents)
MIGRATE_TRANSACTIONS_REQUEST = _request_body(MigrateTransactions)
REVERT_REQUEST = _request_body(RevertCustomers)
LIVE_TRANSACTION_REQUEST = _request_body(_Transaction)


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


class Batch(msgspec.Struct):
    batch: list[
        _BatchIdentify | _BatchTrack | _BatchPage | _BatchScreen | _BatchAlias | _BatchGroup
    ]


class V1Event(msgspec.Struct):
    name: str
    id: str | None = None
    type: Literal["event", "page", "screen"] = "event"
    timestamp: Stamp | None = None
    data: dict[str, Any] | None = None


V1_PERSON_REQUEST = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "Attributes, plus the directives _timestamp (when the update "
                "happened) and _update (true: never create), and email, created_at.",
                "additionalProperties": True,
                "properties": {
                    "email": {"type": "string"},
                    "created_at": {"type": "integer"},
                    "_timestamp": {"type": ["integer", "string"]},
                    "_update": {"type": "boolean"},
                },
            }
        }
    },
}
PIPELINES_REQUESTS = {
    "identify": _request_body(Identify),
    "track": _request_body(Track),
    "page": _request_body(Page),
    "screen": _request_body(Page),
    "alias": _request_body(Alias),
    "group": _request_body(Group),
    "batch": _request_body(Batch),
}
V1_EVENT_REQUEST = _request_body(V1Event)
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


class MergePair(msgspec.Struct):
    merged_user: str
    retained_user: str


class MergeUsers(msgspec.Struct):
    merge_data: Annotated[list[MergePair], msgspec.Meta(min_length=1, max_length=50)]


class CioPerson(msgspec.Struct):
    id: str | None = None
    email: str | None = None


class MergeCustomers(msgspec.Struct):
    primary: CioPerson
    secondary: CioPerson


MERGE_REQUEST = _request_body(MergeUsers)
V1_MERGE_REQUEST = _request_body(MergeCustomers)
