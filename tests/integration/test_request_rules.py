"""SPEC §3 request-level rules on ``POST /v1/transition/{workspace_id}``, and element-level ones.

A request-level problem is answered at once, naming the field and the rule, and nothing of the
request is stored. An element-level problem never fails the request: it lands in the ledger.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from roster_testkit import Harness, Tenant

CUSTOMER = {"type": "customer", "customer_id": "c1", "attributes": {"name": "Ada"}}
LIMIT = 102_400


def envelope(*elements: Any) -> bytes:
    return json.dumps({"type": "transition", "elements": list(elements)}).encode()


def with_value(raw_json: str) -> bytes:
    """A valid request whose one customer has attribute ``x`` set to the JSON text given."""
    return (
        '{"type": "transition", "elements": [{"type": "customer", "customer_id": "c1", '
        '"attributes": {"x": ' + raw_json + "}}]}"
    ).encode()


def nested(depth: int) -> bytes:
    """A valid envelope whose deepest container sits at ``depth`` (the body object is depth 1)."""
    lists = depth - 4  # body {, elements [, element {, attributes {
    return with_value("[" * lists + "]" * lists)


def assert_nothing_stored(roster: Harness, tenant: Tenant) -> None:
    listed = roster.get("/v1/batches", tenant)
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"batches": [], "next": None}
    assert roster.stored_batches() == 0


def post(roster: Harness, tenant: Tenant, body: bytes, ctype: str | None) -> Any:
    headers = dict(tenant.auth)
    if ctype is not None:
        headers["Content-Type"] = ctype
    return roster.request("POST", f"/v1/transition/{tenant.id}", content=body, headers=headers)


JSON = "application/json"
MALFORMED = "malformed_json"
ENVELOPE = "invalid_envelope"
X = "elements[0].attributes.x"

# (body, content type, status, code, field, index, words the message must hold)
REFUSED = [
    pytest.param(b'{"type": "transition", "elements": [', JSON, 400, MALFORMED, None, None,
                 "not valid JSON", id="malformed-json"),
    pytest.param(b"", JSON, 400, MALFORMED, None, None, "empty", id="empty-body"),
    pytest.param(b"  \n ", JSON, 400, MALFORMED, None, None, "empty", id="whitespace-body"),
    pytest.param(b"[]", JSON, 400, ENVELOPE, "$", None, "JSON object", id="top-level-array"),
    pytest.param(b"42", JSON, 400, ENVELOPE, "$", None, "JSON object", id="top-level-number"),
    pytest.param(json.dumps({"elements": [CUSTOMER]}).encode(), JSON, 400, ENVELOPE, "type",
                 None, "required", id="missing-type"),
    pytest.param(json.dumps({"type": "Transition", "elements": [CUSTOMER]}).encode(), JSON, 400,
                 ENVELOPE, "type", None, "case-sensitive", id="type-case-variant"),
    pytest.param(json.dumps({"type": "bulk", "elements": [CUSTOMER]}).encode(), JSON, 400,
                 ENVELOPE, "type", None, "transition", id="type-wrong"),
    pytest.param(json.dumps({"type": "transition"}).encode(), JSON, 400, ENVELOPE, "elements",
                 None, "required", id="elements-missing"),
    pytest.param(json.dumps({"type": "transition", "elements": {"0": CUSTOMER}}).encode(), JSON,
                 400, ENVELOPE, "elements", None, "list", id="elements-not-a-list"),
    pytest.param(envelope(), JSON, 400, ENVELOPE, "elements", None, "empty",
                 id="elements-empty"),
    pytest.param(envelope(CUSTOMER, "c2"), JSON, 400, ENVELOPE, "elements[1]", 1, "object",
                 id="element-not-an-object"),
    pytest.param(envelope(CUSTOMER, {"type": "profile", "customer_id": "c2"}), JSON, 400,
                 ENVELOPE, "elements[1].type", 1, "customer, device, event",
                 id="element-type-unknown"),
    pytest.param(envelope(CUSTOMER, CUSTOMER, {"type": "CUSTOMER", "customer_id": "c3"}), JSON,
                 400, ENVELOPE, "elements[2].type", 2, "case-sensitive",
                 id="element-type-case-variant"),
    pytest.param(envelope({"customer_id": "c1"}), JSON, 400, ENVELOPE, "elements[0].type", 0,
                 "customer, device, event", id="element-type-missing"),
    pytest.param(envelope(CUSTOMER, {**CUSTOMER, "padding": "x" * LIMIT}), JSON, 413,
                 "payload_too_large", None, None, str(LIMIT), id="body-over-100kb"),
    pytest.param(envelope(CUSTOMER), "text/plain", 415, "unsupported_media_type",
                 "Content-Type", None, "application/json", id="content-type-text-plain"),
    pytest.param(envelope(CUSTOMER), None, 415, "unsupported_media_type", "Content-Type", None,
                 "application/json", id="content-type-missing"),
    pytest.param(with_value('"c1"').replace(b'"c1"}', b'"\xff\xfe"}'), JSON, 400, MALFORMED,
                 None, None, "UTF-8", id="invalid-utf8"),
    pytest.param(b"\xef\xbb\xbf\xef\xbb\xbf" + envelope(CUSTOMER), JSON, 400, MALFORMED, None,
                 None, "BOM", id="two-byte-order-marks"),
    pytest.param(envelope(CUSTOMER).decode().encode("utf-16"), JSON, 400, MALFORMED, None, None,
                 "UTF-8", id="utf16"),
    pytest.param(with_value("NaN"), JSON, 400, MALFORMED, X, 0, "NaN", id="nan"),
    pytest.param(with_value("Infinity"), JSON, 400, MALFORMED, X, 0, "Infinity",
                 id="infinity"),
    pytest.param(with_value("-Infinity"), JSON, 400, MALFORMED, X, 0, "Infinity",
                 id="minus-infinity"),
    pytest.param(with_value("1e400"), JSON, 400, MALFORMED, X, 0, "overflows",
                 id="float-overflow-1e400"),
    pytest.param(b'{"type": "transition", "elements": [{"type": "customer", "customer_id": '
                 b'"c1", "customer_id": "c2"}]}', JSON, 400, MALFORMED,
                 "elements[0].customer_id", 0, "duplicate key 'customer_id'",
                 id="duplicate-keys"),
    pytest.param(b'{"type": "transition", "type": "transition", "elements": []}', JSON, 400,
                 MALFORMED, "type", None, "duplicate key 'type'", id="duplicate-top-level-key"),
    pytest.param(with_value('"a\\ud800b"'), JSON, 400, MALFORMED, X, 0, "lone surrogate",
                 id="lone-surrogate"),
    pytest.param(with_value('"a\\u0000b"'), JSON, 400, MALFORMED, X, 0, "NUL", id="nul-char"),
    pytest.param(with_value(str(2**63)), JSON, 400, MALFORMED, X, 0, "64-bit",
                 id="integer-2-pow-63"),
    pytest.param(with_value(str(-(2**63) - 1)), JSON, 400, MALFORMED, X, 0, "64-bit",
                 id="integer-below-int64"),
    pytest.param(nested(33), JSON, 400, MALFORMED, "*" + X, 0, "deeper than 32",
                 id="depth-33"),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, JSON, 400, MALFORMED, None, None,
                 "deeper than 32", id="depth-30000"),
    pytest.param(envelope(CUSTOMER) + b" garbage", JSON, 400, MALFORMED, None, None,
                 "Extra data", id="trailing-garbage"),
    pytest.param(envelope(CUSTOMER) + envelope(CUSTOMER), JSON, 400, MALFORMED, None, None,
                 "Extra data", id="two-documents"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "ctype", "status", "code", "field", "index", "words"), REFUSED)
def test_request_level_problem_is_refused_naming_the_rule_and_nothing_is_stored(
    roster: Harness,
    body: bytes,
    ctype: str | None,
    status: int,
    code: str,
    field: str | None,
    index: int | None,
    words: str,
) -> None:
    """A request breaking a request-level rule gets its status and a body naming field, rule and
    (for a problem inside an element) the element's index; no batch is stored."""
    tenant = roster.tenant()
    response = post(roster, tenant, body, ctype)
    assert response.status_code == status, response.text
    body_json = response.json()
    assert body_json["status"] == "fail"
    error = body_json["error"]
    assert error["code"] == code
    if field is not None and field.startswith("*"):
        assert error["field"].startswith(field[1:])
    else:
        assert error["field"] == field
    assert error["index"] == index
    assert words in error["message"]
    assert_nothing_stored(roster, tenant)


def test_body_of_exactly_102400_bytes_is_accepted(roster: Harness) -> None:
    """A body of exactly 102,400 bytes (100 KB) is accepted and its element applied."""
    tenant = roster.tenant()
    base = envelope({**CUSTOMER, "padding": ""})
    body = envelope({**CUSTOMER, "padding": "x" * (LIMIT - len(base))})
    assert len(body) == LIMIT
    response = post(roster, tenant, body, JSON)
    assert response.status_code == 200, response.text
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    assert post(roster, tenant, body + b" ", JSON).status_code == 413


def test_oversized_body_without_content_length_is_refused_while_streaming(roster: Harness) -> None:
    """A chunked body over 102,400 bytes (no Content-Length) is refused with 413."""
    tenant = roster.tenant()
    body = envelope({**CUSTOMER, "padding": "x" * LIMIT})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    url = f"/v1/transition/{tenant.id}"
    response = roster.request("POST", url, content=chunks(), headers=tenant.json_auth)
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "payload_too_large"
    assert_nothing_stored(roster, tenant)


ACCEPTED = [
    pytest.param(b"\xef\xbb\xbf" + envelope(CUSTOMER), JSON, id="utf8-bom"),
    pytest.param(envelope(CUSTOMER), "application/json; charset=utf-8", id="json-with-charset"),
    pytest.param(nested(32), JSON, id="depth-32"),
    pytest.param(with_value(str(2**63 - 1)), JSON, id="integer-int64-max"),
    pytest.param(with_value(str(-(2**63))), JSON, id="integer-int64-min"),
    pytest.param(with_value('"\\ud83d\\ude00"'), JSON, id="surrogate-pair"),
    pytest.param(with_value("1e308"), JSON, id="large-finite-float"),
]


@pytest.mark.parametrize(("body", "ctype"), ACCEPTED)
def test_edge_of_the_rules_is_accepted(roster: Harness, body: bytes, ctype: str) -> None:
    """Input just inside the rules (a UTF-8 BOM, depth 32, int64 bounds, ...) is accepted (200)."""
    tenant = roster.tenant()
    response = post(roster, tenant, body, ctype)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert batch["status"] == "done"
    assert batch["counts"]["total"] == 1
    assert roster.customer(tenant, "c1") is not None


def test_bom_body_is_applied_like_the_plain_one(roster: Harness) -> None:
    """A body starting with a UTF-8 BOM applies exactly as the same body without it."""
    tenant = roster.tenant()
    response = post(roster, tenant, b"\xef\xbb\xbf" + envelope(CUSTOMER), JSON)
    assert response.status_code == 200, response.text
    roster.drain()
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"] == {"name": "Ada"}


# ---- element-level problems: 200, and recorded in the ledger ------------------------------


def accept_and_apply(roster: Harness, tenant: Tenant, *elements: Any) -> dict[str, Any]:
    response = roster.transition(tenant, list(elements))
    assert response.status_code == 200, response.text
    roster.drain()
    batch = roster.batch(tenant, response.json()["batch_id"])
    assert batch["status"] == "done"
    return batch


def issues(batch: dict[str, Any], kind: str) -> set[tuple[Any, ...]]:
    return {(i["index"], i["key"], i["field"], i["code"]) for i in batch[kind]}


def test_unknown_fields_are_ignored_and_warned_of(roster: Harness) -> None:
    """Unknown fields in an element, its attributes' neighbours and actions are ignored, each
    warned of in the ledger by name (``unknown_field``); the elements apply."""
    tenant = roster.tenant()
    batch = accept_and_apply(
        roster,
        tenant,
        {**CUSTOMER, "vendor_extra": {"a": 1}, "source": "crm"},
        {"type": "event", "customer_id": "c1", "extra": True,
         "actions": [{"action": "Opened", "unknown_action_field": [1, 2]}]},
    )  # fmt: skip
    assert batch["counts"] == {"total": 2, "applied": 2, "skipped": 0, "failed": 0}
    assert batch["errors"] == []
    assert issues(batch, "warnings") == {
        (0, "c1", "vendor_extra", "unknown_field"),
        (0, "c1", "source", "unknown_field"),
        (1, "c1", "extra", "unknown_field"),
        (1, "c1", "actions[0].unknown_action_field", "unknown_field"),
    }
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"] == {"name": "Ada"}
    assert [e["name"] for e in roster.events(tenant, "c1")] == ["Opened"]


@pytest.mark.parametrize("name", ["uid", "migrated", "tier"])
def test_system_attribute_is_refused_with_a_warning(roster: Harness, name: str) -> None:
    """An attribute named uid/migrated/tier is refused (system_attribute) and not stored."""
    tenant = roster.tenant()
    value = {"uid": 999_999, "migrated": True, "tier": "gold"}[name]
    element = {"type": "customer", "customer_id": "c1", "attributes": {"name": "Ada", name: value}}
    batch = accept_and_apply(roster, tenant, element)
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    assert issues(batch, "warnings") == {(0, "c1", f"attributes.{name}", "system_attribute")}
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"] == {"name": "Ada"}
    assert profile["uid"] != 999_999
    assert profile["migrated"] is False


@pytest.mark.parametrize("name", ["id", "_id", ""])
def test_forbidden_attribute_name_is_refused(roster: Harness, name: str) -> None:
    """An attribute named "id" (or "_id", "") is refused as invalid_attribute_name."""
    tenant = roster.tenant()
    element = {"type": "customer", "customer_id": "c1", "attributes": {"name": "Ada", name: "x"}}
    batch = accept_and_apply(roster, tenant, element)
    assert batch["counts"]["applied"] == 1
    assert issues(batch, "warnings") == {(0, "c1", f"attributes.{name}", "invalid_attribute_name")}
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"] == {"name": "Ada"}


def test_too_long_string_is_refused_and_the_rest_applies(roster: Harness) -> None:
    """A 513-character value is refused (value_too_long); 512 and the other attributes apply."""
    tenant = roster.tenant()
    attributes = {"name": "Ada", "bio": "b" * 513, "note": "n" * 512, "age": 36}
    batch = accept_and_apply(
        roster, tenant, {"type": "customer", "customer_id": "c1", "attributes": attributes}
    )
    assert batch["counts"] == {"total": 1, "applied": 1, "skipped": 0, "failed": 0}
    assert issues(batch, "warnings") == {(0, "c1", "attributes.bio", "value_too_long")}
    profile = roster.customer(tenant, "c1")
    assert profile is not None
    assert profile["attributes"] == {"name": "Ada", "note": "n" * 512, "age": 36}


def test_event_times_out_of_window_fail_only_their_element(roster: Harness) -> None:
    """Events an hour in the future or in 1970 fail with invalid_timestamp; the others apply."""
    tenant = roster.tenant()
    now = int(time.time())
    batch = accept_and_apply(
        roster,
        tenant,
        {"type": "event", "customer_id": "future",
         "actions": [{"action": "Late", "current_time": now + 3600}]},
        {"type": "event", "customer_id": "past",
         "actions": [{"action": "Early", "current_time": 86_400}]},
        {"type": "event", "customer_id": "ok",
         "actions": [{"action": "Fine", "current_time": now - 60}]},
    )  # fmt: skip
    assert batch["counts"] == {"total": 3, "applied": 1, "skipped": 0, "failed": 2}
    assert issues(batch, "errors") == {
        (0, "future", "actions[0].current_time", "invalid_timestamp"),
        (1, "past", "actions[0].current_time", "invalid_timestamp"),
    }
    assert roster.customer(tenant, "future") is None
    assert roster.customer(tenant, "past") is None
    assert [e["name"] for e in roster.events(tenant, "ok")] == ["Fine"]


def test_update_existing_only_never_creates(roster: Harness) -> None:
    """update_existing_only for an unknown customer is skipped (unknown_customer), not created."""
    tenant = roster.tenant()
    element = {"type": "customer", "customer_id": "ghost", "attributes": {"name": "Nobody"},
               "update_existing_only": True}  # fmt: skip
    batch = accept_and_apply(roster, tenant, element)
    assert batch["counts"] == {"total": 1, "applied": 0, "skipped": 1, "failed": 0}
    assert issues(batch, "warnings") == {(0, "ghost", "customer_id", "unknown_customer")}
    assert roster.customer(tenant, "ghost") is None


def test_device_for_unknown_customer_fails(roster: Harness) -> None:
    """A device for an unknown customer fails with unknown_customer and creates nobody."""
    tenant = roster.tenant()
    device = {"type": "device", "customer_id": "ghost", "device_id": "d1",
              "attributes": {"platform": "ANDROID", "push_id": "p1"}}  # fmt: skip
    batch = accept_and_apply(roster, tenant, device)
    assert batch["counts"] == {"total": 1, "applied": 0, "skipped": 0, "failed": 1}
    assert issues(batch, "errors") == {(0, "d1", "customer_id", "unknown_customer")}
    assert roster.customer(tenant, "ghost") is None


def test_numeric_customer_id_is_stored_as_its_string(roster: Harness) -> None:
    """A customer_id sent as a number is accepted and stored as its string."""
    tenant = roster.tenant()
    batch = accept_and_apply(
        roster, tenant, {"type": "customer", "customer_id": 12345, "attributes": {"name": "N"}}
    )
    assert batch["counts"]["applied"] == 1
    profile = roster.customer(tenant, "12345")
    assert profile is not None
    assert profile["customer_id"] == "12345"
    assert profile["attributes"] == {"name": "N"}


def test_one_bad_element_does_not_block_the_others(roster: Harness) -> None:
    """Bad elements of every kind fail alone; the good ones in the same request apply."""
    tenant = roster.tenant()
    batch = accept_and_apply(
        roster,
        tenant,
        {"type": "customer", "customer_id": "good", "attributes": {"name": "G", "id": 1}},
        {"type": "customer", "attributes": {"name": "no id"}},
        {"type": "device", "customer_id": "good", "device_id": "d1",
         "attributes": {"platform": "toaster", "push_id": "p"}},
        {"type": "device", "customer_id": "good", "device_id": "d2",
         "attributes": {"platform": "android", "push_id": "p2"}},
        {"type": "event", "customer_id": "good", "actions": []},
        {"type": "event", "customer_id": "good", "actions": [{"action": "Bought"}]},
    )  # fmt: skip
    assert batch["counts"] == {"total": 6, "applied": 3, "skipped": 0, "failed": 3}
    assert {(i, c) for i, _, _, c in issues(batch, "errors")} == {
        (1, "missing_field"),
        (2, "invalid_platform"),
        (4, "missing_field"),
    }
    profile = roster.customer(tenant, "good")
    assert profile is not None
    assert profile["attributes"] == {"name": "G"}
    assert [d["platform"] for d in profile["devices"]] == ["ANDROID"]
    assert [e["name"] for e in roster.events(tenant, "good")] == ["Bought"]
