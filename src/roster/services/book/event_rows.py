"""Turning MoEngage event actions into stored event rows, all-or-nothing per element.

This is the worker's hottest loop (85 % of a typical import is events), so the common shape of
an action (a name, an epoch-ms ``current_time`` string or number, an integer offset, a known
platform spelling) is read in a few steps (``timestamps.common_event_time``, a table of
spellings); anything else goes through the general rules of ``roster.domain.timestamps`` and
``roster.domain.platforms``, which give the same values.
The action's attributes arrive as the raw JSON text of the request (checked strictly at the
door) and are stored as sent, without being decoded and encoded again.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.campaigns import can_trigger
from roster.domain.element_rules import MAX_EVENT_NAME, excerpt
from roster.domain.outcomes import Ledger
from roster.domain.platforms import CANONICAL, canonical_platform
from roster.domain.profiles import Profile
from roster.domain.timestamps import (
    InvalidTimestamp,
    check_event_window,
    common_event_time,
    resolve_event_time,
)
from roster.formats.moengage import Action
from roster.store import events as event_store
from roster.store.events import EventDraft

MAX_VERSION = 255
#: Platform spellings met in practice, mapped without ``strip().lower()``.
_PLATFORM = {
    **CANONICAL,
    **{v: v for v in CANONICAL.values()},
    **{"Android": "ANDROID", "IOS": "iOS", "Web": "web", "WEB": "web"},
}

#: The events of one element, waiting together for their customer's uid.
ElementEvents = tuple[Profile, list[EventDraft]]


def draft_actions(
    ledger: Ledger,
    index: int,
    key: str | None,
    actions: list[Action] | None,
    batch: Claimed,
    device_id: str | None,
) -> list[EventDraft] | None:
    """The rows of every action, or ``None`` (and the element failed) if one is invalid."""
    if not actions:
        ledger.fail(index, key, "actions", oc.MISSING_FIELD, "'actions' must be a non-empty list")
        return None
    received = batch.accepted_at
    drafts = []
    for n, action in enumerate(actions):
        name = action.action
        if type(name) is not str or len(name) > MAX_EVENT_NAME or not (name := name.strip()):
            where = f"actions[{n}].action"
            msg = f"'{where}' must be a non-empty string of at most {MAX_EVENT_NAME} characters"
            ledger.fail(index, key, where, oc.MISSING_FIELD, msg)
            return None
        attributes = bytes(action.attributes).decode()
        if attributes[0] != "{":
            if attributes != "null":
                where = f"actions[{n}].attributes"
                msg = f"'{where}' must be an object (or null), got {attributes[:40]}"
                ledger.fail(index, key, where, oc.INVALID_FIELD, msg)
                return None
            attributes = "{}"
        times = common_event_time(
            action.current_time, action.user_time, action.user_timezone_offset, received
        )
        if times is None:
            times = _general_times(ledger, index, key, n, action, received)
            if times is None:
                return None
        utc, local, offset = times
        given = action.platform
        platform = _PLATFORM.get(given) if type(given) is str else None
        if platform is None and given is not None:
            platform = canonical_platform(given)
            if platform is None:
                shown = excerpt(given)
                msg = f"{shown} is not a platform (ANDROID, iOS, web, TV); stored without one"
                ledger.warn(index, key, f"actions[{n}].platform", oc.INVALID_PLATFORM, msg)
        version = action.app_version
        if version is not None and (type(version) is not str or len(version) > MAX_VERSION):
            version = _version(ledger, index, key, n, version)
        drafts.append(
            EventDraft(  # by position: keywords cost 0.5 µs more a row (EventRow)
                name,
                utc,  # occurred_at
                local,  # local_time
                offset,  # tz_offset
                platform,
                version,  # app_version
                device_id,
                attributes,
                received,  # received_at
                batch.id,
                can_trigger(utc, received, migrated=False),
                False,  # migrated
                None,  # source_id
                None,  # value
            )
        )
    return drafts


def _version(ledger: Ledger, index: int, key: str | None, n: int, sent: object) -> str | None:
    """An app version as text (a number as its text); one over ``MAX_VERSION`` characters is
    cut, and one of another type (a boolean, a list, an object) left out, each said so."""
    where = f"actions[{n}].app_version"
    if type(sent) is not str and type(sent) is not int and type(sent) is not float:
        msg = f"must be a string, got {type(sent).__name__}: the event is stored without one"
        ledger.warn(index, key, where, oc.INVALID_FIELD, msg)
        return None
    text = str(sent)
    if len(text) > MAX_VERSION:
        msg = f"{len(text)} characters: stored cut to its first {MAX_VERSION}"
        ledger.warn(index, key, where, oc.VALUE_TOO_LONG, msg)
        text = text[:MAX_VERSION]
    return text


def _general_times(
    ledger: Ledger, index: int, key: str | None, n: int, action: Action, received: int
) -> tuple[int, int, int | None] | None:
    try:
        utc, local, offset = resolve_event_time(
            action.current_time, action.user_time, action.user_timezone_offset, received
        )
        check_event_window(utc, received)
    except InvalidTimestamp as exc:
        given = (
            "user_time" if action.current_time is None and action.user_time is not None else None
        )
        field = f"actions[{n}].{exc.field or given or 'current_time'}"
        ledger.fail(index, key, field, oc.INVALID_TIMESTAMP, str(exc))
        return None
    return utc, local, offset


def insert_events(conn: Connection, workspace_id: str, elements: list[ElementEvents]) -> None:
    """Store the events (their customers have uids by now) in one bulk statement."""
    rows = []
    for profile, drafts in elements:
        owner = (workspace_id, profile.uid, profile.uid)
        rows += [owner + draft for draft in drafts]
    event_store.insert_many(conn, rows)
