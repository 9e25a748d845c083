"""The rules every kind of element follows, each in one place (``domain.element_rules``): ids,
the source time, and the problem that refuses an element."""

from __future__ import annotations

import msgspec
import pytest

from roster.api.params import text_param
from roster.domain import outcomes as oc
from roster.domain.element_rules import (
    MAX_ID_LENGTH,
    EntryProblem,
    Problem,
    field_name,
    id_text,
    ledger_key,
    source_time,
    usable_id,
)
from roster.domain.errors import InvalidParameter
from roster.formats import masivo, masivo_entries, moengage

ACCEPTED = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def test_an_id_holds_at_most_255_characters() -> None:
    """An id of 255 characters can name something; one of 256 cannot."""
    assert MAX_ID_LENGTH == 255
    assert usable_id("c" * 255)
    assert not usable_id("c" * 256)


def test_a_blank_id_names_nothing() -> None:
    """An empty id, or one of spaces only, is not usable; one with a space inside is."""
    assert not usable_id("")
    assert not usable_id("   ")
    assert usable_id(" c 1 ")


def test_a_path_id_has_the_same_longest_length_as_an_element_id() -> None:
    """A URL id of 255 characters is accepted and one of 256 refused, as in a body."""
    assert text_param("c" * 255, "customer_id") == "c" * 255
    with pytest.raises(InvalidParameter, match="holds at most 255 characters"):
        text_param("c" * 256, "customer_id")


@pytest.mark.parametrize(
    ("sent", "text"),
    [
        ("c-1", "c-1"),
        ("", ""),
        (0, "0"),
        (-5, "-5"),
        (12345678901234567890, "12345678901234567890"),
    ],
)
def test_an_id_sent_as_a_string_or_an_integer_becomes_text(sent: object, text: str) -> None:
    """A string id stays as sent; an integer id becomes its decimal text."""
    assert id_text(sent) == text


@pytest.mark.parametrize("sent", [None, True, False, 1.0, 1.5, [], {}, ["c"], {"id": "c"}])
def test_anything_else_sent_as_an_id_is_no_id_text(sent: object) -> None:
    """A boolean, a fraction, a list, an object or nothing is not an id's text."""
    assert id_text(sent) is None


def test_the_ledger_key_shows_what_was_sent_cut_to_the_longest_id() -> None:
    """The ledger's key is whatever was sent, as text, never longer than 255 characters."""
    assert ledger_key(None) is None
    assert ledger_key("c-1") == "c-1"
    assert ledger_key(7) == "7"
    assert ledger_key(True) == "True"
    assert ledger_key("c" * 300) == "c" * 255


def test_no_time_sent_is_the_batch_accept_time() -> None:
    """A value sent without a timestamp was written when the batch was accepted."""
    assert source_time(None, ACCEPTED, "timestamp") == ACCEPTED


@pytest.mark.parametrize(
    "sent",
    ["2023-11-14T22:13:20Z", "2023-11-14T23:13:20+01:00", 1_700_000_000, 1_700_000_000_000],
)
def test_a_time_sent_is_read_in_any_accepted_form(sent: object) -> None:
    """ISO-8601, epoch seconds and epoch milliseconds all give the same moment."""
    assert source_time(sent, ACCEPTED, "timestamp") == ACCEPTED


def test_a_time_up_to_10_minutes_ahead_is_accepted() -> None:
    """A client clock 10 minutes ahead of the server is tolerated."""
    assert source_time(ACCEPTED + 600_000, ACCEPTED, "timestamp") == ACCEPTED + 600_000


def test_a_time_more_than_10_minutes_ahead_is_refused_naming_its_field() -> None:
    """A time that would win over every later update is refused with invalid_timestamp."""
    problem = source_time(ACCEPTED + 700_000, ACCEPTED, "traits._timestamp")
    assert problem == Problem(
        "traits._timestamp",
        oc.INVALID_TIMESTAMP,
        "timestamp 2023-11-14T22:25:00.000Z is more than 10 minutes in the future",
    )


def test_a_time_before_1971_is_refused() -> None:
    """The epoch itself (a zero sent by mistake) is not a time a value was written."""
    problem = source_time(0, ACCEPTED, "timestamp")
    assert isinstance(problem, Problem)
    assert problem.message == "timestamp 1970-01-01T00:00:00.000Z is before 1971-01-01T00:00:00Z"


def test_an_unreadable_time_is_named_as_the_vendor_names_it() -> None:
    """The problem's field is where the time sat; its message may name it as the vendor does."""
    problem = source_time("soon", ACCEPTED, "attributes._timestamp", named="_timestamp")
    assert isinstance(problem, Problem)
    assert problem.field == "attributes._timestamp"
    assert problem.code == "invalid_timestamp"
    assert problem.message == (
        "_timestamp: 'soon' is not a valid timestamp "
        "(expected ISO-8601, epoch seconds or epoch milliseconds)"
    )
    unnamed = source_time(True, ACCEPTED, "traits._timestamp")
    assert isinstance(unnamed, Problem)
    assert (
        unnamed.message == "traits._timestamp: True is not a valid timestamp (booleans are refused)"
    )


def test_an_entry_problem_raised_carries_the_problem_the_ledger_reports() -> None:
    """A nested rule raises its problem; the field, code and message reach the ledger as made."""
    with pytest.raises(EntryProblem) as caught:
        raise EntryProblem("t.amount", oc.MISSING_FIELD, "'t.amount' is required")
    assert caught.value.problem == Problem("t.amount", "missing_field", "'t.amount' is required")
    assert caught.value.field == "t.amount"
    assert str(caught.value) == "'t.amount' is required"


def test_a_moengage_element_id_sent_as_a_number_is_handed_out_as_text() -> None:
    """Customer and device ids sent as numbers come out of the decoder as strings."""
    body = msgspec.json.encode(
        {
            "type": "transition",
            "elements": [
                {"type": "customer", "customer_id": 42},
                {"type": "device", "customer_id": 42, "device_id": 7},
                {"type": "event", "customer_id": "c-1", "device_id": 8},
            ],
        }
    )
    customer, device, event = moengage.decode_elements(body)
    assert isinstance(customer, moengage.CustomerElement)
    assert isinstance(device, moengage.DeviceElement)
    assert isinstance(event, moengage.EventElement)
    assert customer.customer_id == "42"
    assert (device.customer_id, device.device_id) == ("42", "7")
    assert (event.customer_id, event.device_id) == ("c-1", "8")


def test_a_moengage_element_that_does_not_fit_is_a_problem_beside_the_others() -> None:
    """An unreadable element is an invalid_field problem naming the field; the rest decode."""
    body = msgspec.json.encode(
        {
            "type": "transition",
            "elements": [
                {"type": "customer", "customer_id": 1.5},
                {"type": "customer", "customer_id": 42},
            ],
        }
    )
    bad, good = moengage.decode_elements(body)
    assert isinstance(bad, Problem)
    assert (bad.field, bad.code) == ("customer_id", "invalid_field")
    assert bad.message == "Expected `int | str | null`, got `float` - at `$.customer_id`"
    assert isinstance(good, moengage.CustomerElement)
    assert good.customer_id == "42"


def test_a_reading_stored_before_problems_were_maps_is_read_again() -> None:
    """A stored reading of version 1 (a problem as an array) gives the same reads as a new one."""
    bad = {"type": "PURCHASE", "issued_at": "yesterday"}
    body = masivo.encode_entry({"customers": [{"id": "c", "events": [bad]}]}).encode()
    reads = masivo_entries.read_events(body)
    problem = reads[0][0]
    assert isinstance(problem, Problem)
    old = msgspec.msgpack.encode((1, [[[2, problem.field, problem.code, problem.message]]]))
    assert masivo_entries.events_of(body, old) == reads
    assert masivo_entries.events_of(body, masivo_entries.prepare_events(body)) == reads


def test_a_name_a_client_chose_is_named_whole_up_to_255_characters() -> None:
    """A valid name is named whole; a 90,000-character one by an excerpt."""
    assert field_name("n" * 255) == "n" * 255
    named = field_name("n" * 90_000)
    assert len(named) == 60
    assert named.endswith("…")


def test_the_ledger_never_stores_a_huge_value_whole() -> None:
    """Whoever wrote the message, an issue keeps at most 1000 characters of it, 400 of its
    field and 255 of its key."""
    ledger = oc.Ledger(total=1)
    ledger.warn(0, "k" * 90_000, "f" * 90_000, oc.INVALID_FIELD, "m" * 90_000)
    (issue,) = ledger.issues
    assert len(issue.message) == oc.MAX_MESSAGE
    assert len(issue.field or "") == oc.MAX_FIELD
    assert len(issue.key or "") == MAX_ID_LENGTH


def test_an_error_body_never_holds_a_huge_value_whole() -> None:
    exc = InvalidParameter("m" * 90_000, field="f" * 90_000)
    assert len(exc.message) <= 1000
    assert len(exc.field or "") <= 400


def test_a_note_takes_the_outcome_of_the_element_it_is_about() -> None:
    """A warning added once an element is decided is reported with that element's outcome."""
    ledger = oc.Ledger(total=3)
    ledger.created(0)
    ledger.fail(1, "c", "f", oc.MISSING_FIELD, "missing")
    ledger.skip(2, "c", "f", oc.DUPLICATE_IGNORED, "again")
    for index in range(3):
        ledger.note(index, "c", "x", oc.UNKNOWN_FIELD, "unknown")
    notes = [i.outcome for i in ledger.issues if i.code == oc.UNKNOWN_FIELD]
    assert notes == ["applied", "failed", "skipped"]


@pytest.mark.parametrize("name", ["events", "transactions"])
def test_masivo_fields_no_one_knows_are_found_in_one_decode_or_by_a_walk(name: str) -> None:
    """A body with only documented fields has none (the one decode in C); one with others, or
    with an entry of another shape, is walked and each is named where it sat."""
    item = "event" if name == "events" else "transaction"
    fields = masivo.EVENT_FIELDS if name == "events" else masivo.TRANSACTION_FIELDS
    entry = {f: None for f in fields}
    if name == "events":
        entry["order"] = {f: 1 for f in masivo.ORDER_FIELDS}
    clean = msgspec.json.encode({"customers": [{"id": "a", name: [entry, 5]}], "extra": 1})
    assert masivo.unknown_fields(clean, name) == []
    odd = {"customers": [{"id": "a", "nme": 1, name: [{**entry, "atrs": 1}]}]}
    found = masivo.unknown_fields(msgspec.json.encode(odd), name)
    assert [(u.customer, u.entry, u.field) for u in found] == [
        (0, None, "customers[0].nme"),
        (0, 0, f"customers[0].{name}[0].atrs"),
    ]
    assert f"documents for a{'n' if item == 'event' else ''} {item}" in found[1].message
