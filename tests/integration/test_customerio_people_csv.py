"""CSV people import (``POST /v1/imports/people``, SPEC §6) on both stores: the file rules at
the door, per-row errors by row number, the options, and chunked application."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from roster.bootstrap import Container
from roster.store import batch_chunks
from roster.store.database import Database
from roster_testkit import Harness, Tenant, settings_for

CSV = {"Content-Type": "text/csv"}


def post_csv(roster: Harness, t: Tenant, body: bytes, query: str = "", **headers: str) -> Any:
    url = "/v1/imports/people" + (f"?{query}" if query else "")
    return roster.request("POST", url, content=body, headers={**t.auth, **CSV, **headers})


def imported(roster: Harness, t: Tenant, body: bytes, query: str = "") -> dict[str, Any]:
    """Import a file that must be accepted; apply it; return its batch."""
    response = post_csv(roster, t, body, query)
    assert response.status_code == 202, response.text
    roster.drain(timeout=120)
    return roster.batch(t, response.json()["batch_id"])


def table(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def attributes(roster: Harness, t: Tenant, customer_id: str) -> dict[str, Any] | None:
    found = roster.customer(t, customer_id)
    return None if found is None else found["attributes"]


def test_a_100000_row_file_imports_with_exact_row_errors(roster: Harness) -> None:
    """A BOM, quoted commas, line breaks inside quotes, rows without an id and rows with a
    wrong number of fields: every good row applies, every bad one is reported by its row."""
    t = roster.tenant()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "email", "name", "note"])
    expected_errors = {}
    for n in range(100_000):
        row = n + 2  # the header is row 1
        if n % 997 == 5:
            writer.writerow(["", f"p{n}@example.com", "No Id", "x"])
            expected_errors[row] = "missing_field"
        elif n % 1499 == 7:
            writer.writerow([f"c{n}", "two-fields"])
            expected_errors[row] = "invalid_row"
        elif n % 3 == 0:
            writer.writerow(
                [f"c{n}", f"p{n}@example.com", f"Last, First {n}", f"line one\nline {n}"]
            )
        else:
            writer.writerow([f"c{n}", f"p{n}@example.com", f"Name {n}", ""])
    body = b"\xef\xbb\xbf" + out.getvalue().encode()
    assert len(body) > 4_000_000  # several chunks
    response = post_csv(roster, t, body)
    assert response.status_code == 202, response.text
    assert response.json()["rows"] == 100_000
    assert response.json()["columns"] == ["id", "email", "name", "note"]
    roster.drain(timeout=300)
    batch = roster.batch(t, response.json()["batch_id"])
    failed = len(expected_errors)
    assert batch["status"] == "done"
    assert batch["counts"] == {
        "total": 100_000,
        "applied": 100_000 - failed,
        "skipped": 0,
        "failed": failed,
    }
    assert {e["index"]: e["code"] for e in batch["errors"]} == expected_errors
    assert batch["warnings"] == []
    assert attributes(roster, t, "c0") == {
        "email": "p0@example.com",
        "name": "Last, First 0",
        "note": "line one\nline 0",
    }
    assert attributes(roster, t, "c99998") == {"email": "p99998@example.com", "name": "Name 99998"}
    assert attributes(roster, t, "c7") is None  # its row had two fields
    with roster.db.read() as conn:  # applied, the file is not kept
        assert batch_chunks.count(conn, batch["batch_id"]) == 0


def test_rows_are_numbered_as_a_spreadsheet_shows_them(roster: Harness) -> None:
    """The header is row 1; a record holding a line break is one row; a blank line counts."""
    t = roster.tenant()
    body = b'id,note\n1,"two\nlines"\n\n,empty id\n3,ok\n4\n'
    batch = imported(roster, t, body)
    assert batch["counts"] == {"total": 4, "applied": 2, "skipped": 0, "failed": 2}
    assert [(e["index"], e["code"]) for e in batch["errors"]] == [
        (4, "missing_field"),
        (6, "invalid_row"),
    ]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"id,email,Plan,plan,plan\n1,a@x.io,a,b,c\n", "header[5]", "named 'plan' like column 4"),
        (b"email,plan\na@x.io,gold\n", "header", "(or match_by=email)"),
        (b"name,plan\nana,gold\n", "header", "column named 'id' is required"),
        (("id," + ",".join(f"c{n}" for n in range(100)) + "\n1\n").encode(), "header", "101"),
        (b"id,_secret\n1,x\n", "header[2]", "reserved"),
        (b"id,uid\n1,x\n", "header[2]", "owned by Roster"),
        (b"", "file", "empty"),
        (b"\xef\xbb\xbfid,plan\r\n", "file", "no rows"),
        (b'id,plan\n1,"unclosed\n2,x\n', "file", "row 2"),
        (b"id,plan\n1,caf\xe9\n", "file", "not UTF-8"),
        (b"id,plan\r1,a\r2,b\r", "file", "bare CR"),
    ],
)
def test_a_file_that_breaks_a_rule_is_refused_and_nothing_stored(
    roster: Harness, body: bytes, field: str, words: str
) -> None:
    t = roster.tenant()
    response = post_csv(roster, t, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]
    assert roster.stored_batches() == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [("match_by=name", "match_by"), ("create=maybe", "create"), ("empty=skip", "empty")],
)
def test_unknown_option_values_are_refused_by_name(roster: Harness, query: str, field: str) -> None:
    t = roster.tenant()
    response = post_csv(roster, t, b"id\n1\n", query)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field


def test_only_csv_and_multipart_bodies_are_read(roster: Harness) -> None:
    t = roster.tenant()
    response = post_csv(roster, t, b"id\n1\n", **{"Content-Type": "application/json"})
    assert response.status_code == 415


def test_a_multipart_upload_is_read_like_a_csv_body(roster: Harness) -> None:
    t = roster.tenant()
    files = {"file": ("people.csv", b"id,plan\n1,gold\n", "text/csv")}
    response = roster.request(
        "POST", "/v1/imports/people", files=files, data={"note": "ignored"}, headers=t.auth
    )
    assert response.status_code == 202, response.text
    roster.drain()
    assert attributes(roster, t, "1") == {"plan": "gold"}
    none = roster.request("POST", "/v1/imports/people", data={"a": "b"}, headers=t.auth)
    assert none.status_code in (400, 415)


def test_create_false_updates_existing_people_only(roster: Harness) -> None:
    t = roster.tenant()
    imported(roster, t, table(["id", "plan"], ["1", "free"]))
    batch = imported(roster, t, table(["id", "plan"], ["1", "pro"], ["2", "pro"]), "create=false")
    assert batch["counts"] == {"total": 2, "applied": 1, "skipped": 1, "failed": 0}
    (skip,) = batch["warnings"]
    assert (skip["index"], skip["key"], skip["code"]) == (3, "2", "unknown_customer")
    assert attributes(roster, t, "1") == {"plan": "pro"}
    assert attributes(roster, t, "2") is None


def test_match_by_email_finds_people_whatever_the_case(roster: Harness) -> None:
    t = roster.tenant()
    imported(roster, t, table(["id", "email", "plan"], ["1", "Ana@Example.com", "free"]))
    body = table(["email", "plan", "id"], ["ana@example.COM", "pro", ""], ["new@x.io", "x", "9"])
    batch = imported(roster, t, body, "match_by=email")
    assert batch["counts"]["applied"] == 2
    assert attributes(roster, t, "1") == {"email": "ana@example.COM", "plan": "pro"}
    assert attributes(roster, t, "9") == {"email": "new@x.io", "plan": "x"}
    conflict = imported(roster, t, table(["email", "id"], ["new@x.io", "1"]), "match_by=email")
    assert [e["code"] for e in conflict["errors"]] == ["identifier_conflict"]


def test_empty_cells_are_ignored_or_nullified(roster: Harness) -> None:
    t = roster.tenant()
    imported(roster, t, table(["id", "plan", "city"], ["1", "pro", "Lima"]))
    imported(roster, t, table(["id", "plan", "city"], ["1", "", "Quito"]))
    assert attributes(roster, t, "1") == {"plan": "pro", "city": "Quito"}
    imported(roster, t, table(["id", "plan", "city"], ["1", "", "Quito"]), "empty=nullify")
    assert attributes(roster, t, "1") == {"plan": None, "city": "Quito"}


def test_values_stay_strings_unless_infer_types(roster: Harness) -> None:
    t = roster.tenant()
    header = ["id", "vip", "age", "score", "zip", "big", "text"]
    row = ["1", "true", "42", "3.5", "01234", "12345678901234567890", "1e5"]
    imported(roster, t, table(header, row))
    assert attributes(roster, t, "1") == dict(zip(header[1:], row[1:], strict=True))
    imported(roster, t, table(header, ["2", *row[1:]]), "infer_types=true")
    assert attributes(roster, t, "2") == {
        "vip": True,
        "age": 42,
        "score": 3.5,
        "zip": "01234",
        "big": "12345678901234567890",
        "text": "1e5",
    }


def test_a_timestamp_column_orders_updates(roster: Harness) -> None:
    t = roster.tenant()
    now = int(time.time())
    imported(roster, t, table(["id", "plan", "_timestamp"], ["1", "new", str(now - 60)]))
    batch = imported(roster, t, table(["id", "plan", "_timestamp"], ["1", "old", str(now - 600)]))
    (stale,) = batch["warnings"]
    assert (stale["index"], stale["field"], stale["code"]) == (2, "plan", "stale_attribute_skipped")
    assert attributes(roster, t, "1") == {"plan": "new"}
    bad = imported(roster, t, table(["id", "plan", "_timestamp"], ["1", "x", "yesterday"]))
    assert [(e["index"], e["field"]) for e in bad["errors"]] == [(2, "_timestamp")]


def test_long_values_are_refused_per_cell(roster: Harness) -> None:
    t = roster.tenant()
    batch = imported(roster, t, table(["id", "bio", "plan"], ["1", "x" * 600, "pro"]))
    assert batch["counts"]["applied"] == 1
    assert [(w["index"], w["field"], w["code"]) for w in batch["warnings"]] == [
        (2, "bio", "value_too_long")
    ]
    assert attributes(roster, t, "1") == {"plan": "pro"}


def test_an_import_keeps_the_workspace_order(roster: Harness) -> None:
    """An identify accepted after an import applies after it, whatever the chunks."""
    t = roster.tenant()
    rows = [["id", "plan"]] + [[str(n), "from-csv"] for n in range(25_000)]
    response = post_csv(roster, t, table(*rows))
    assert response.status_code == 202
    later = roster.cio(t, "/v1/identify", {"userId": "24999", "traits": {"plan": "later"}})
    assert later.status_code == 200
    roster.drain(timeout=120)
    assert attributes(roster, t, "24999") == {"plan": "later"}
    assert attributes(roster, t, "0") == {"plan": "from-csv"}


def test_a_retried_upload_with_its_key_is_stored_once(roster: Harness) -> None:
    t = roster.tenant()
    body = table(["id", "plan"], ["1", "gold"])
    first = post_csv(roster, t, body, **{"Idempotency-Key": "upload-1"})
    again = post_csv(roster, t, body, **{"Idempotency-Key": "upload-1"})
    assert first.json()["batch_id"] == again.json()["batch_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = post_csv(roster, t, body, "create=false", **{"Idempotency-Key": "upload-1"})
    assert other.status_code == 422
    assert roster.stored_batches() == 1


@pytest.fixture
def small_limit(store_url: str) -> Iterator[Harness]:
    settings = settings_for(store_url, csv_max_bytes=1000)
    db = Database(settings.database_url, pool_size=2)
    yield Harness(Container(settings, db))
    db.dispose()


def test_a_file_over_the_limit_is_refused_as_it_streams(small_limit: Harness) -> None:
    roster = small_limit
    t = roster.tenant()
    body = table(["id", "note"], *[[str(n), "x" * 50] for n in range(30)])

    async def stream() -> AsyncIterator[bytes]:  # no Content-Length: capped while read
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    response = roster.request(
        "POST", "/v1/imports/people", content=stream(), headers={**t.auth, **CSV}
    )
    assert response.status_code == 413
    files = {"file": ("p.csv", body, "text/csv")}
    multipart = roster.request("POST", "/v1/imports/people", files=files, headers=t.auth)
    assert multipart.status_code == 413
    assert roster.stored_batches() == 0


def test_a_batch_with_many_issues_is_read_a_page_at_a_time(roster: Harness) -> None:
    """Every row of a file failing: the batch answers 1,000 issues a page, and the pages
    together hold each row's error once, in row order."""
    t = roster.tenant()
    batch = imported(roster, t, table(["id", "plan"], *[["", "x"] for _ in range(2_500)]))
    assert batch["counts"]["failed"] == 2_500
    assert batch["issues"] == {"errors": 2_500, "warnings": 0, "offset": 0, "limit": 1000}
    assert len(batch["errors"]) == 1000
    batch_id = batch["batch_id"]
    seen = []
    for offset in range(0, 2_500, 1000):
        url = f"/v1/batches/{batch_id}?issues_offset={offset}&issues_limit=1000"
        page = roster.get(url, t).json()
        assert page["issues"]["offset"] == offset
        seen += [e["index"] for e in page["errors"]]
    assert seen == list(range(2, 2_502))
    assert roster.get(f"/v1/batches/{batch_id}?issues_limit=0", t).status_code == 400
