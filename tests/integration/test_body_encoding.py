"""Bodies sent gzip-compressed (``Content-Encoding: gzip``): decompressed as they stream, the
size caps held on the decompressed bytes (a compression bomb is a 413), a broken stream a 400,
an encoding Roster cannot read a 415; and Data Pipelines errors in the shape its clients read."""

from __future__ import annotations

import gzip
import json

from roster_testkit import Harness


def _identify(user: str) -> bytes:
    return json.dumps({"userId": user, "traits": {"plan": "pro"}}).encode()


def test_a_gzip_body_is_read_as_its_decompressed_json(roster: Harness) -> None:
    tenant = roster.tenant()
    headers = {**tenant.auth, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    sent = roster.request(
        "POST", "/v1/identify", content=gzip.compress(_identify("u1")), headers=headers
    )
    assert sent.status_code == 200, sent.text
    roster.drain()
    assert roster.customer(tenant, "u1")["attributes"]["plan"] == "pro"
    csv_headers = {**tenant.auth, "Content-Type": "text/csv", "Content-Encoding": "gzip"}
    csv = gzip.compress(b"id,plan\nu2,free\n")
    imported = roster.request("POST", "/v1/imports/people", content=csv, headers=csv_headers)
    assert imported.status_code == 202, imported.text
    roster.drain()
    assert roster.customer(tenant, "u2")["attributes"]["plan"] == "free"


def test_a_compression_bomb_is_refused_before_it_inflates(roster: Harness) -> None:
    """Ten megabytes of one byte, compressed to about ten kilobytes: 413, nothing stored."""
    tenant = roster.tenant()
    limit = roster.container.settings.max_body_bytes
    bomb = gzip.compress(b'{"userId": "u1", "traits": {"x": "' + b"a" * 10_000_000 + b'"}}')
    assert len(bomb) < limit
    headers = {**tenant.auth, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    refused = roster.request("POST", "/v1/identify", content=bomb, headers=headers)
    assert refused.status_code == 413, refused.text
    assert str(limit) in refused.json()["message"]
    assert roster.get("/v1/batches", tenant).json()["batches"] == []


def test_broken_gzip_and_unknown_encodings_are_refused_by_name(roster: Harness) -> None:
    tenant = roster.tenant()
    base = {**tenant.auth, "Content-Type": "application/json"}
    whole = gzip.compress(_identify("u1"))
    cut = roster.request(
        "POST", "/v1/identify", content=whole[:-12], headers={**base, "Content-Encoding": "gzip"}
    )
    assert (cut.status_code, cut.json()["code"]) == (400, "malformed_encoding"), cut.text
    assert cut.json()["error"]["field"] == "Content-Encoding"
    junk = roster.request(
        "POST", "/v1/identify", content=b"not gzip", headers={**base, "Content-Encoding": "gzip"}
    )
    assert junk.status_code == 400, junk.text
    brotli = roster.request(
        "POST", "/v1/identify", content=_identify("u1"), headers={**base, "Content-Encoding": "br"}
    )
    assert brotli.status_code == 415, brotli.text
    assert brotli.json()["error"]["field"] == "Content-Encoding"
    assert roster.get("/v1/batches", tenant).json()["batches"] == []


def test_data_pipelines_errors_carry_code_and_message_where_its_clients_read_them(
    roster: Harness,
) -> None:
    """Customer.io's and Segment's clients raise their error from the body's ``code`` and
    ``message``; Roster's own ``error`` object stays beside them."""
    tenant = roster.tenant()
    headers = {**tenant.auth, "Content-Type": "application/json"}
    for path in ("/v1/identify", "/v1/api/batch"):
        bad = roster.request("POST", path, content=b"{not json", headers=headers)
        assert bad.status_code == 400, bad.text
        body = bad.json()
        assert body["code"] == body["error"]["code"] == "malformed_json"
        assert body["message"] == body["error"]["message"]
    elsewhere = roster.request("POST", f"/v1/transition/{tenant.id}", content=b"{", headers=headers)
    assert "code" not in elsewhere.json()  # MoEngage's envelope alone
