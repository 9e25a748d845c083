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


@dataclass(eq=False, slots=True)
class EventDraft:
    """An event ready to store, waiting for its customer's uid."""

    name: str
    occurred_at: int
    local_time: int
    tz_offset: int | None
    platform: str | None
    app_version: str | None
    attributes: dict[str, Any]
    profile: Profile | None = None
    device_id: str | None = None
    batch: Claimed | None = None


def draft_actions(
    ledger: Ledger, index: int, key: str | None, actions: list[Action] | None, received: int
) -> list[EventDraft] | None:
    """Drafts for every action, or ``None`` (and the element failed) if any action is invalid."""
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
) -> EventDraft | None:
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
    return EventDraft(
        name=name.strip(),
        occurred_at=utc,
        local_time=local,
        tz_offset=offset,
        platform=platform,
        app_version=None if version is None else str(version)[:255],
        attributes=action.attributes or {},
    )


def insert_drafts(conn: Connection, workspace_id: str, drafts: list[EventDraft]) -> None:
    """Store the drafts (their profiles have uids by now) in one bulk statement."""
    rows = []
    for d in drafts:
        assert d.profile is not None
        assert d.profile.uid is not None
        assert d.batch is not None
        uid = d.profile.uid
        received = d.batch.accepted_at
        rows.append(
            (
                workspace_id,
                uid,
                uid,
                d.name,
                d.occurred_at,
                d.local_time,
                d.tz_offset,
                d.platform,
                d.app_version,
                d.device_id,
                _encode(d.attributes).decode(),
                received,
                d.batch.id,
                can_trigger(d.occurred_at, received, migrated=False),
                False,
                None,
            )
        )
    event_store.insert_many(conn, rows)
