"""``roster load`` pointed at a vendor: a local recording server stands in for MoEngage,
Customer.io and Masivo, and what it receives are the vendors' own requests."""

from __future__ import annotations

import base64
import csv
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from roster.loader.run import LoadRequest, load


class Recorder(BaseHTTPRequestHandler):
    """Answers as a vendor does: no Roster read API (404), writes accepted, and one request
    of MoEngage refused (to show the report of a refused request)."""

    received: list[dict[str, Any]]

    def do_GET(self) -> None:
        self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(
            {"path": self.path, "headers": dict(self.headers.items()), "body": body}
        )
        if b"refuse-me" in body:
            error = {"code": "invalid_envelope", "message": "no", "field": "elements", "index": 1}
            self._answer(400, {"status": "fail", "error": error})
        else:
            self._answer(200, {"status": "success"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def vendor() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (Recorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def _load(url: str, kind: str, path: Path, tmp_path: Path) -> None:
    request = LoadRequest(
        kind,
        [str(path)],
        url,
        "APP1",
        "secret-key",
        report=tmp_path / f"{kind}.csv",
        state_dir=tmp_path / "state",
    )
    outcome = load(request)
    assert outcome.roster is False


def _basic(header: str) -> str:
    return base64.b64decode(header.removeprefix("Basic ")).decode()


def test_moengage_gets_bulk_import_requests_within_its_limit(
    vendor: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Transition records go as MoEngage Bulk Import bodies of at most 100 KB, to the app's
    path with the app id and key as Basic credentials, and no Roster header."""
    url, received = vendor
    path = tmp_path / "t.jsonl"
    elements = [
        {"type": "customer", "customer_id": f"c{i}", "attributes": {"pad": "x" * 200}}
        for i in range(1000)
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in elements), encoding="utf-8")
    _load(url, "transition", path, tmp_path)
    assert len(received) > 1
    sent = []
    # Requests in flight together may arrive in any order: put them back in the run's order.
    received.sort(key=lambda r: int(r["headers"]["Idempotency-Key"].rsplit(":", 1)[1]))
    for request in received:
        assert request["path"] == "/v1/transition/APP1"
        assert _basic(request["headers"]["Authorization"]) == "APP1:secret-key"
        assert request["headers"]["Content-Type"] == "application/json"
        assert "X-Roster-Run" not in request["headers"]
        assert len(request["body"]) <= 102_400
        body = json.loads(request["body"])
        assert body["type"] == "transition"
        sent += body["elements"]
    assert sent == elements


def test_customerio_and_masivo_get_their_own_requests(
    vendor: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Data Pipelines calls go to /v1/batch with the key as Basic user; Masivo customers to its
    migrate endpoint with a bearer key, at most 1,000 a request."""
    url, received = vendor
    calls = tmp_path / "c.jsonl"
    calls.write_text(json.dumps({"type": "track", "userId": "u", "event": "e"}) + "\n")
    _load(url, "customerio", calls, tmp_path)
    (request,) = received
    assert request["path"] == "/v1/batch"
    assert _basic(request["headers"]["Authorization"]) == "secret-key:"
    assert json.loads(request["body"]) == {
        "batch": [{"type": "track", "userId": "u", "event": "e"}]
    }
    received.clear()
    people = tmp_path / "m.jsonl"
    people.write_text("".join(json.dumps({"id": f"c{i}"}) + "\n" for i in range(2500)))
    _load(url, "masivo-customers", people, tmp_path)
    assert sorted(len(json.loads(r["body"])["customers"]) for r in received) == [500, 1000, 1000]
    assert {r["path"] for r in received} == {"/api/storefront/v1/customers/migrate"}
    assert {r["headers"]["Authorization"] for r in received} == {"Bearer secret-key"}


def test_a_request_the_vendor_refuses_is_reported_record_by_record(
    vendor: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """A vendor has no ledger to read: a refused request's records are the report, the one its
    answer names with its code, the others as refused with it."""
    url, _ = vendor
    path = tmp_path / "t.jsonl"
    path.write_text(
        json.dumps({"type": "customer", "customer_id": "a"})
        + "\n"
        + json.dumps({"type": "customer", "customer_id": "refuse-me"})
        + "\n"
    )
    _load(url, "transition", path, tmp_path)
    with open(tmp_path / "transition.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["line"]), r["code"], r["outcome"]) for r in rows] == [
        (1, "request_refused", "failed"),
        (2, "invalid_envelope", "failed"),
    ]
