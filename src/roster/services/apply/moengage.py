"""Applying a MoEngage transition batch: customers, then devices, then events.

Each group is applied in request order. Every element gets exactly one outcome in the ledger;
all database work is set-based: a few loads while the group is decided in memory
(``plan_transitions``), then a few bulk writes (``TransitionPlan.write``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.attributes import clean_attributes
from roster.domain.batches import Claimed
from roster.domain.element_rules import MAX_ID_LENGTH, Problem, excerpt, source_time, usable_id
from roster.domain.outcomes import Ledger
from roster.domain.platforms import canonical_platform, is_opted_out
from roster.domain.profiles import Device, Profile
from roster.domain.workspaces import Workspace
from roster.formats.moengage import (
    CustomerElement,
    DeviceElement,
    Element,
    EventElement,
    Unknown,
    decode_elements,
)
from roster.services.book.attribute_writes import set_attributes
from roster.services.book.event_rows import ElementEvents, draft_actions, insert_events
from roster.services.book.identity_merges import merge_shared
from roster.services.book.profile_book import FrozenProfiles, ProfileBook, identifier_pairs
from roster.store import devices as device_store
from roster.store import events as event_store


@dataclass(slots=True)
class Shared:
    """What the batches applied together share: devices and events wait for the final flush."""

    known_devices: dict[str, Device] = field(default_factory=dict)
    touched_devices: dict[str, Device] = field(default_factory=dict)
    device_owners: list[tuple[Device, Profile]] = field(default_factory=list)
    #: Each device's owner as the group has it so far (the stored ``uid`` is set at the write).
    owner_of: dict[str, Profile] = field(default_factory=dict)
    events: list[ElementEvents] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Context:
    workspace: Workspace
    batch: Claimed
    ledger: Ledger
    book: ProfileBook
    max_string: int
    shared: Shared


@dataclass(slots=True)
class Parts:
    """One batch's readable elements by kind, each with its index in the request."""

    customers: list[tuple[int, CustomerElement]] = field(default_factory=list)
    devices: list[tuple[int, DeviceElement]] = field(default_factory=list)
    events: list[tuple[int, EventElement]] = field(default_factory=list)


@dataclass(slots=True)
class Frozen:
    """A decided group's rows, taken as its profiles and devices were when it was decided."""

    profiles: FrozenProfiles
    new_devices: list[tuple[Any, ...]]
    old_devices: list[dict[str, Any]]
    events: list[tuple[Any, ...]]


@dataclass(slots=True)
class TransitionPlan:
    """A group of batches decided in memory: every outcome is known, nothing is written yet."""

    workspace_id: str
    ledgers: list[Ledger]
    book: ProfileBook
    shared: Shared
    frozen: Frozen | None = None

    def write(self, conn: Connection) -> list[Ledger]:
        """Write the group's effects in the caller's (write) transaction; return the ledgers."""
        if self.frozen is not None:
            frozen = self.frozen
            frozen.profiles.write(conn)
            device_store.save_rows(conn, frozen.new_devices, frozen.old_devices)
            event_store.insert_many(conn, frozen.events)
            return self.ledgers
        self.book.flush(conn)
        shared = self.shared
        for device, owner in shared.device_owners:
            assert owner.uid is not None
            device.uid = owner.uid
        touched = shared.touched_devices.values()
        device_store.save(conn, self.workspace_id, touched, self.book.now)
        insert_events(conn, self.workspace_id, shared.events)
        merge_shared(conn, self.book)
        return self.ledgers

    @property
    def can_go_on(self) -> bool:
        """Whether the next batches may be decided from this plan's book while it is written
        (``freeze`` first): not with identity resolution (lookups by identifier, merges)."""
        return not self.book.workspace.identity_resolution and not self.book.shared

    def freeze(self, conn: Connection) -> None:
        """Take every row ``write`` sends now (new customers numbered from the store's
        sequence, in ``conn``), so that the next batches may be decided from the book and the
        known devices, which then hold the state this plan leaves, while it is written."""
        assert self.can_go_on
        assert self.frozen is None
        book, shared = self.book, self.shared
        profiles = book.freeze(conn)
        for device, owner in shared.device_owners:
            assert owner.uid is not None
            device.uid = owner.uid
        touched = shared.touched_devices.values()
        new_devices, old_devices = device_store.rows_to_save(self.workspace_id, touched, book.now)
        for device in touched:  # stored once this plan is written
            device.exists = True
        ws = self.workspace_id
        events = [
            (ws, profile.uid, profile.uid, *draft)
            for profile, drafts in shared.events
            for draft in drafts
        ]
        self.frozen = Frozen(profiles, new_devices, old_devices, events)
        # What the next plan carries: the book and the known devices, nothing of this group's
        self.shared = Shared(known_devices=shared.known_devices)


def plan_transitions(
    conn: Connection,
    workspace: Workspace,
    batches: list[Claimed],
    *,
    max_string: int,
    after: TransitionPlan | None = None,
) -> TransitionPlan:
    """Decide consecutive batches of one workspace, in order, reading what they touch in a few
    queries; ``TransitionPlan.write`` then stores it all with one set of bulk writes.

    Each batch keeps its own ledger and its own source time; the result is the same as applying
    them one after the other (the profiles they touch are shared in memory between them). The
    reads may run outside the write transaction: while the worker holds the group's leases, no
    other writer changes the workspace's customers or devices.

    ``after``: the plan of the batches right before these, frozen and not yet written (or
    written but not read back): what it touched is taken from it, as it left them, the rest
    read from the store (which that plan does not change).
    """
    decoded = [decode_elements(b.payload) for b in batches]
    ledgers = [Ledger(total=len(elements)) for elements in decoded]
    parts = [_parts(elements, ledger) for elements, ledger in zip(decoded, ledgers, strict=True)]
    now = max(b.accepted_at for b in batches)
    if after is None:
        book = ProfileBook(workspace, now)
        book.preload(conn, *_named_customers(workspace, parts))
        shared = Shared(known_devices=device_store.load(conn, workspace.id, _device_ids(parts)))
    else:
        assert after.frozen is not None
        assert workspace == after.book.workspace
        book = after.book
        changed, named, _ = _named_customers(workspace, parts)
        book.preload_more(conn, now, changed, named)
        known = after.shared.known_devices
        wanted = {d for d in _device_ids(parts) if d not in known}
        known.update(device_store.load(conn, workspace.id, wanted))
        shared = Shared(known_devices=known)
    for batch, ledger, part in zip(batches, ledgers, parts, strict=True):
        ctx = Context(workspace, batch, ledger, book, max_string, shared)
        book.batch_id = batch.id
        _apply_one(ctx, part)
    return TransitionPlan(workspace.id, ledgers, book, shared)


def _parts(elements: Sequence[Element | Unknown | Problem], ledger: Ledger) -> Parts:
    """Sort the elements by kind, failing the unreadable ones in the ledger and warning of
    fields no one knows (the element is applied without them)."""
    parts = Parts()
    events, customers, devices = parts.events, parts.customers, parts.devices
    for index, element in enumerate(elements):
        kind = type(element)
        if kind is Unknown:
            element = _warn_unknown(ledger, index, element)  # type: ignore[arg-type]
            kind = type(element)
        if kind is EventElement:
            events.append((index, element))  # type: ignore[arg-type]
        elif kind is CustomerElement:
            customers.append((index, element))  # type: ignore[arg-type]
        elif kind is DeviceElement:
            devices.append((index, element))  # type: ignore[arg-type]
        else:
            assert isinstance(element, Problem)
            ledger.fail(index, None, element.field, element.code, element.message)
    return parts


def _apply_one(ctx: Context, parts: Parts) -> None:
    """One batch: customers first, then devices, then events, each in request order."""
    for index, customer in parts.customers:
        _apply_customer(ctx, index, customer)
    for index, device in parts.devices:
        found = _device(ctx, index, device, ctx.shared.known_devices)
        if found is not None:
            ctx.shared.touched_devices[found[0].device_id] = found[0]
            ctx.shared.device_owners.append(found)
    _apply_events(ctx, parts.events)


def _warn_unknown(ledger: Ledger, index: int, found: Unknown) -> Element:
    element = found.element
    key = element.customer_id
    for name in found.fields:
        msg = (
            f"'{name}' is not a field MoEngage or Roster knows: ignored (a typo? see "
            "docs/compatibility.md for the fields each element takes)"
        )
        ledger.warn(index, key, name, oc.UNKNOWN_FIELD, msg)
    return element


def _device_ids(parts: list[Parts]) -> set[str]:
    return {
        device.device_id
        for part in parts
        for _, device in part.devices
        if device.device_id is not None
    }


def _named_customers(
    workspace: Workspace, parts: list[Parts]
) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """Ids of customers the batch may change, ids it only names, identifiers it looks up."""
    changed: set[str] = set()
    named: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    ir = workspace.identity_resolution
    for part in parts:
        for _, customer in part.customers:
            if customer.customer_id is not None:
                changed.add(customer.customer_id)
            if ir:
                pairs.update(identifier_pairs(workspace, customer.attributes or {}))
        for elements in (part.devices, part.events):
            named.update(e.customer_id for _, e in elements if e.customer_id is not None)
        if ir:
            for _, event in part.events:
                pairs.update(identifier_pairs(workspace, event.user_identifiers or {}))
    return changed, named, pairs


def _check_id(ctx: Context, index: int, value: str | None, name: str) -> str | None:
    """A usable id, or ``None`` after failing the element with the reason."""
    if value is None:
        ctx.ledger.fail(index, None, name, oc.MISSING_FIELD, f"'{name}' is required")
        return None
    if not usable_id(value):
        msg = f"'{name}' must be 1-{MAX_ID_LENGTH} characters and not blank"
        ctx.ledger.fail(index, value[:MAX_ID_LENGTH], name, oc.INVALID_CUSTOMER_ID, msg)
        return None
    return value


def _apply_customer(ctx: Context, index: int, el: CustomerElement) -> None:
    raw = dict(el.attributes or {})
    if el.platforms is not None:
        if "platforms" in raw:  # one of the two is lost: said, not silent
            msg = "'platforms' is sent at the top level too: that one is kept, this one ignored"
            ctx.ledger.warn(
                index, el.customer_id, "attributes.platforms", oc.INVALID_ATTRIBUTE_VALUE, msg
            )
        raw["platforms"] = el.platforms
    cid = el.customer_id
    ir = ctx.workspace.identity_resolution
    if cid is None and ir and identifier_pairs(ctx.workspace, raw):
        profile = ctx.book.find(raw)
    else:
        if (cid := _check_id(ctx, index, cid, "customer_id")) is None:
            return
        profile = ctx.book.get(cid)
    key = cid or _first_identifier(ctx.workspace, raw)
    at = ctx.batch.accepted_at
    source_ms = source_time(raw.get("_timestamp"), at, "attributes._timestamp", named="_timestamp")
    if isinstance(source_ms, Problem):
        ctx.ledger.fail(index, key, source_ms.field, source_ms.code, source_ms.message)
        return
    if profile is None and (el.update_existing_only or raw.get("_update") is True):
        msg = "customer does not exist and update_existing_only is set: nothing created"
        ctx.ledger.skip(index, key, "customer_id", oc.UNKNOWN_CUSTOMER, msg)
        return
    new = profile is None
    profile = profile or ctx.book.create(cid, ctx.batch)
    changed = set_attributes(
        ctx.book,
        ctx.ledger,
        index,
        key,
        profile,
        raw,
        source_ms,
        prefix="attributes",
        max_string=ctx.max_string,
    )
    if new:
        ctx.ledger.created(index)
    elif changed:
        ctx.ledger.updated(index)
    else:
        ctx.ledger.unchanged(index)


def _first_identifier(workspace: Workspace, values: dict[str, Any]) -> str | None:
    pairs = identifier_pairs(workspace, values)
    return pairs[0][1] if pairs else None


def _device(
    ctx: Context, index: int, el: DeviceElement, known: dict[str, Device]
) -> tuple[Device, Profile] | None:
    cid = _check_id(ctx, index, el.customer_id, "customer_id")
    did = cid and _check_id(ctx, index, el.device_id, "device_id")
    if cid is None or did is None:
        return None
    attrs = el.attributes
    if attrs is None:
        ctx.ledger.fail(index, did, "attributes", oc.MISSING_FIELD, "'attributes' is required")
        return None
    platform = canonical_platform(attrs.get("platform"))
    if platform is None:
        msg = f"{excerpt(attrs.get('platform'))} is not a platform (ANDROID, iOS, web, TV)"
        ctx.ledger.fail(index, did, "attributes.platform", oc.INVALID_PLATFORM, msg)
        return None
    push_id = attrs.get("push_id")
    if not isinstance(push_id, str) or not push_id.strip():
        msg = "'attributes.push_id' is required and must be a non-empty string"
        ctx.ledger.fail(index, did, "attributes.push_id", oc.MISSING_FIELD, msg)
        return None
    profile = ctx.book.get(cid)
    if profile is None:
        msg = f"customer {cid!r} does not exist: devices attach to existing customers only"
        ctx.ledger.fail(index, did, "customer_id", oc.UNKNOWN_CUSTOMER, msg)
        return None
    rest = {k: v for k, v in attrs.items() if k not in ("platform", "push_id")}
    clean = clean_attributes(rest, max_string=ctx.max_string, prefix="attributes")
    for p in clean.problems:
        ctx.ledger.warn(index, did, p.field, p.code, p.message)
    device = known.get(did)
    owner = ctx.shared.owner_of.get(did)
    if owner is not None:
        moved = owner is not profile
    else:
        moved = device is not None and device.uid != profile.uid
    ctx.shared.owner_of[did] = profile
    before = None if device is None else (device.platform, device.push_id, device.attributes)
    device = device or Device(did, 0, platform, push_id, False)
    device.platform, device.push_id = platform, push_id
    device.attributes = {**device.attributes, **clean.values}
    device.push_opted_out = is_opted_out(device.attributes.get("moe_push_opted"))
    known[did] = device
    if before is None:
        ctx.ledger.created(index)
    elif moved or before != (platform, push_id, device.attributes):
        ctx.ledger.updated(index)
    else:
        ctx.ledger.unchanged(index)
    return device, profile


def _apply_events(ctx: Context, events: list[tuple[int, EventElement]]) -> None:
    """Each event element's rows, waiting for the flush; a bad element fails with its reason."""
    ledger, batch, ws = ctx.ledger, ctx.batch, ctx.workspace
    by_id = ctx.book.by_id
    waiting = ctx.shared.events
    for index, el in events:
        cid = el.customer_id
        key = cid or _first_identifier(ws, el.user_identifiers or {})
        device_id = el.device_id
        if device_id is not None and len(device_id) > MAX_ID_LENGTH:
            msg = f"'device_id' must be at most {MAX_ID_LENGTH} characters"
            ledger.fail(index, key, "device_id", oc.INVALID_FIELD, msg)
            continue
        drafts = draft_actions(ledger, index, key, el.actions, batch, device_id)
        if drafts is None:
            continue
        if cid is not None and len(cid) <= MAX_ID_LENGTH and (profile := by_id.get(cid)):
            pass  # the common case: a known, valid customer id
        elif (profile := _event_customer(ctx, index, el)) is None:
            continue
        ledger.created(index)
        waiting.append((profile, drafts))


def _event_customer(ctx: Context, index: int, el: EventElement) -> Profile | None:
    """The event's customer: found by id or identifiers, or created (MoEngage creates it)."""
    cid = el.customer_id
    idents = el.user_identifiers or {}
    ws = ctx.workspace
    if cid is None and ws.identity_resolution and identifier_pairs(ws, idents):
        profile = ctx.book.find(idents)
        if profile is None:
            profile = ctx.book.create(None, ctx.batch)
            key = _first_identifier(ws, idents)
            at = ctx.batch.accepted_at
            set_attributes(
                ctx.book,
                ctx.ledger,
                index,
                key,
                profile,
                dict(idents),
                at,
                prefix="user_identifiers",
                max_string=ctx.max_string,
            )
        return profile
    if (cid := _check_id(ctx, index, cid, "customer_id")) is None:
        return None
    return ctx.book.get(cid) or ctx.book.create(cid, ctx.batch)
