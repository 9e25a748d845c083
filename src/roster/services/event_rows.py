"""Turning MoEngage event actions into stored event rows, all-or-nothing per element."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.campaigns import can_trigger
from roster.domain.outcomes import Ledger
from roster.domain.platforms import canonical_platform
from roster.domain.timestamps import InvalidTimestamp, check_event_window, resolve_event_time
from roster.formats.moengage import Action
from roster.store import events as event_store
from roster.store.batches import Claimed
from roster.store.profiles import Profile

_encode = msgspec.json.Encoder().encode
MAX_NAME = 255


#: An event's own columns, ``name`` to ``attributes`` in ``events.COLUMNS`` order but for the
#: device id: (name, occurred_at, local_time, tz_offset, platform, app_version, attributes JSON).
Fields = tuple[str, int, int, int | None, str | None, str | None, str]


@dataclass(eq=False, slots=True)
class ElementEvents:
    """The events of one event element, waiting together for their customer's uid."""

    profile: Profile
    device_id: str | None
    batch: Claimed
    fields: list[Fields]


def draft_actions(
    ledger: Ledger, index: int, key: str | None, actions: list[Action] | None, received: int
) -> list[Fields] | None:
    """The fields of every action, or ``None`` (and the element failed) if one is invalid."""
    if not actions:
        ledger.fail(index, key, "actions", oc.MISSING_FIELD, "'actions' must be a non-empty list")
        return None
    drafts = []
    for n, action in enumerate(actions):
        draft = _draft(ledger, index, key, n, action, received)
        if draft is None:
            return None
        drafts.append(draft)
    return drafts


def _draft(
    ledger: Ledger, index: int, key: str | None, n: int, action: Action, received: int
) -> Fields | None:
    where = f"actions[{n}]"
    name = action.action
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        msg = f"'{where}.action' must be a non-empty string of at most {MAX_NAME} characters"
        ledger.fail(index, key, f"{where}.action", oc.MISSING_FIELD, msg)
        return None
    try:
        utc, local, offset = resolve_event_time(
            action.current_time, action.user_time, action.user_timezone_offset, received
        )
        check_event_window(utc, received)
    except InvalidTimestamp as exc:
        given = (
            "user_time" if action.current_time is None and action.user_time is not None else None
        )
        field = f"{where}.{exc.field or given or 'current_time'}"
        ledger.fail(index, key, field, oc.INVALID_TIMESTAMP, str(exc))
        return None
    platform = canonical_platform(action.platform)
    if action.platform is not None and platform is None:
        msg = f"{action.platform!r} is not a platform (ANDROID, iOS, web, TV); stored without one"
        ledger.warn(index, key, f"{where}.platform", oc.INVALID_PLATFORM, msg)
    version = action.app_version
    attributes = _encode(action.attributes or {}).decode()
    return (name.strip(), utc, local, offset, platform, _version(version), attributes)


def _version(value: Any) -> str | None:
    return None if value is None else str(value)[:255]


def insert_events(conn: Connection, workspace_id: str, elements: list[ElementEvents]) -> None:
    """Store the events (their customers have uids by now) in one bulk statement."""
    rows = []
    for e in elements:
        uid = e.profile.uid
        assert uid is not None
        received, batch_id, device_id = e.batch.accepted_at, e.batch.id, e.device_id
        for name, utc, local, offset, platform, version, attributes in e.fields:
            trigger = can_trigger(utc, received, migrated=False)
            row = (workspace_id, uid, uid, name, utc, local, offset, platform, version, device_id)
            rows.append((*row, attributes, received, batch_id, trigger, False, None))
    event_store.insert_many(conn, rows)
