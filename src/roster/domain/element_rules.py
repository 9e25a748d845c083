"""The rules every kind of element follows, each written once (pure, stdlib only).

* An id a client sends (a customer, a device, an event, a reward, a purchase) is text of at most
  ``MAX_ID_LENGTH`` characters, not blank (``usable_id``); one sent as an integer is that
  integer's text (``id_text``). The ledger shows an id at most that long (``ledger_key``).
* A client's time for a value (``source_time``): the timestamp it sent, else the batch's accept
  time; one more than 10 minutes after the batch was received, or before 1971, is refused.
* An event's name is at most ``MAX_EVENT_NAME`` characters.
* A message quotes a client's value in an excerpt (``excerpt``) and a name the client chose
  (an attribute's, an unknown field's) at most ``MAX_ID_LENGTH`` long (``field_name``): never a
  90,000-character value whole.
* What refuses an element (or an entry, or an attribute of one) is a ``Problem``: the field, a
  stable code (``domain.outcomes``) and a message, which the ledger reports as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from roster.domain import outcomes
from roster.domain.timestamps import InvalidTimestamp, check_event_window, parse_timestamp

#: The longest id a client may send, in characters (path ids, element ids, entry ids).
MAX_ID_LENGTH = 255
#: The longest event name, in characters (MoEngage actions, Customer.io events, Masivo events).
MAX_EVENT_NAME = 255


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an element, or an entry of one, cannot be used: where, a stable code, and why."""

    #: The field the problem is in (``None`` when no one field is to blame).
    field: str | None
    code: str
    message: str


class EntryProblem(ValueError):
    """A rule reading nested entries refuses one: raised, so the first problem ends the read;
    ``problem`` is what the ledger reports."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(field, code, message)

    @property
    def field(self) -> str | None:
        """The field the problem is in."""
        return self.problem.field


def id_text(value: object) -> str | None:
    """An id sent as a string or an integer, as text; anything else (``None``, a boolean, a
    fraction, a list, an object) is ``None``."""
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    return None


def usable_id(text: str) -> bool:
    """Whether an id's text can name something: not blank, at most ``MAX_ID_LENGTH`` long."""
    return len(text) <= MAX_ID_LENGTH and bool(text.strip())


#: The most characters of a client's value an error or warning quotes.
EXCERPT_LENGTH = 60


def excerpt(value: object) -> str:
    """A client's value as a message quotes it: its ``repr``, cut to ``EXCERPT_LENGTH``
    characters (a 90,000-character value is never echoed whole)."""
    text = repr(value)
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


def field_name(name: str) -> str:
    """A name a client chose (an attribute's, an unknown field's, a key), as a ledger's
    ``field`` or a message names it: whole up to ``MAX_ID_LENGTH`` characters (every valid
    name), else its first ``EXCERPT_LENGTH`` characters and ``…``."""
    return name if len(name) <= MAX_ID_LENGTH else name[: EXCERPT_LENGTH - 1] + "…"


def ledger_key(value: object) -> str | None:
    """What a client sent as an id, as the ledger's ``key``: text, cut to ``MAX_ID_LENGTH``."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_ID_LENGTH]


def source_time(
    value: object, accepted_at: int, field: str, *, named: str | None = None
) -> int | Problem:
    """When a value was written, in epoch milliseconds: the timestamp ``value`` the client
    sent, or ``accepted_at`` (the batch's accept time) when it sent none (``None``).

    A time more than 10 minutes after the batch was received is refused: it would win over
    every later update; so is one before 1971. The problem's field is ``field``, where the time
    sat; its message names the time ``named`` when a vendor's message calls it otherwise
    (MoEngage's ``attributes._timestamp`` is named ``_timestamp``).
    """
    if value is None:
        return accepted_at
    try:
        ms = parse_timestamp(value, field=named or field)
        check_event_window(ms, accepted_at)
    except InvalidTimestamp as exc:
        return Problem(field, outcomes.INVALID_TIMESTAMP, str(exc))
    return ms
