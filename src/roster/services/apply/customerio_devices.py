"""Applying a Customer.io device operation (``formats.customerio_devices``): add or update one
device of a person, or remove one.

A suppressed identifier's devices are left alone (``suppressed``). Adding a device to a person
no one holds creates the person, as Customer.io's Track API does
for its other calls (by id, or by email with that email). Removing a device of a person no one
holds is skipped (``unknown_customer``), as is removing a device the person does not have
(``unknown_device``): the answer was 200 either way, as Customer.io's is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from roster.domain import outcomes as oc
from roster.domain.batches import Claimed
from roster.domain.identity import normalise_identifier
from roster.domain.outcomes import Ledger
from roster.domain.profiles import Device, Profile
from roster.domain.workspaces import Workspace
from roster.formats import customerio_devices as devices_format
from roster.formats.customerio_devices import DeviceOp
from roster.services.book.attribute_writes import write_clean
from roster.services.book.profile_book import ProfileBook
from roster.store import devices as device_store
from roster.store import profiles, suppressions


@dataclass(slots=True)
class DevicePlan:
    ledger: Ledger
    workspace_id: str
    book: ProfileBook
    #: A device to save, with its owner (whose uid it takes once the owner is written).
    saved: tuple[Device, Profile] | None = None
    #: A device to remove: ``(uid, device id)``.
    removed: tuple[int, str] | None = None

    def write(self, conn: Connection) -> list[Ledger]:
        self.book.flush(conn)
        if self.saved is not None:
            device, owner = self.saved
            assert owner.uid is not None
            device.uid = owner.uid
            device_store.save(conn, self.workspace_id, [device], self.book.now)
        if self.removed is not None:
            device_store.remove(conn, self.workspace_id, *self.removed)
        return [self.ledger]


def plan_device(conn: Connection, workspace: Workspace, batch: Claimed) -> DevicePlan:
    return decide_device(conn, workspace, batch, devices_format.decode(batch.payload))


def decide_device(
    conn: Connection, workspace: Workspace, batch: Claimed, op: DeviceOp
) -> DevicePlan:
    """The device operation ``op``, decided (its ledger's one element)."""
    book = ProfileBook(workspace, batch.accepted_at)
    book.batch_id = batch.id
    plan = DevicePlan(Ledger(total=1), workspace.id, book)
    key = normalise_identifier("email", op.identifier) if op.by_email else op.identifier
    if suppressions.among_suppressed(conn, workspace.id, [key]):
        msg = f"{op.identifier!r} is suppressed: its devices are left alone until unsuppressed"
        plan.ledger.skip(0, op.identifier, "identifier", oc.SUPPRESSED, msg)
        return plan
    person = _person(conn, book, op)
    known = device_store.load(conn, workspace.id, {op.device_id}).get(op.device_id)
    if op.op == "delete":
        _remove(plan, op, person, known)
        return plan
    new_person = person is None
    owner = person or _create(book, plan.ledger, op, batch)
    device = known or Device(op.device_id, 0, op.platform or "", op.device_id, False)
    before = None if known is None else (known.platform, known.push_id, known.attributes, known.uid)
    device.platform, device.push_id = op.platform or device.platform, op.device_id
    device.attributes = {**device.attributes, **op.attributes}
    plan.saved = (device, owner)
    after = (device.platform, device.push_id, device.attributes, owner.uid)
    if before is None or new_person:
        plan.ledger.created(0)
    elif before != after:
        plan.ledger.updated(0)
    else:
        plan.ledger.unchanged(0)
    return plan


def _remove(plan: DevicePlan, op: DeviceOp, person: Profile | None, known: Device | None) -> None:
    if person is None or person.uid is None:
        msg = f"no person has {'email' if op.by_email else 'id'} {op.identifier!r}"
        plan.ledger.skip(0, op.identifier, "identifier", oc.UNKNOWN_CUSTOMER, msg)
    elif known is None or known.uid != person.uid:
        msg = f"person {op.identifier!r} has no device {op.device_id!r}: nothing removed"
        plan.ledger.skip(0, op.device_id, "device_id", oc.UNKNOWN_DEVICE, msg)
    else:
        plan.removed = (person.uid, op.device_id)
        plan.ledger.updated(0)


def _person(conn: Connection, book: ProfileBook, op: DeviceOp) -> Profile | None:
    """The person the path names: by id, or by email."""
    ws = book.workspace
    if not op.by_email:
        book.preload(conn, {op.identifier}, (), ())
        return book.get(op.identifier)
    email = normalise_identifier("email", op.identifier)
    found = profiles.email_holders(conn, ws.id, {email}, indexed="email" in ws.identifiers)
    if email not in found:
        return None
    uid = found[email][0]
    book.preload(conn, (), (), (), uids=[uid])
    return book.by_uid.get(uid)


def _create(book: ProfileBook, ledger: Ledger, op: DeviceOp, batch: Claimed) -> Profile:
    if not op.by_email:
        return book.create(op.identifier, batch)
    profile = book.create(None, batch)
    email = {"email": op.identifier}
    write_clean(book, ledger, 0, op.identifier, profile, email, batch.accepted_at, prefix="")
    return profile
