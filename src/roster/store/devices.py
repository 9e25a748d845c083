"""Devices: a push address per device, attached to one customer."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.profiles import Device
from roster.store import raw_sql
from roster.store.schema import devices as t

_encode = msgspec.json.Encoder().encode


_COLUMNS = "device_id, uid, platform, push_id, push_opted_out, attributes"
_LOAD_PG = raw_sql.probe_each("devices", _COLUMNS, "device_id")


def load(conn: Connection, workspace_id: str, device_ids: Collection[str]) -> dict[str, Device]:
    if not device_ids:
        return {}
    if conn.dialect.name == "postgresql":
        params = [_encode(list(device_ids)).decode(), workspace_id]
        rows = raw_sql.fetch_all(conn, _LOAD_PG, params)
    else:
        listed, listed_params = raw_sql.among(conn, "device_id", device_ids)
        sql = f"SELECT {_COLUMNS} FROM devices WHERE workspace_id = ? AND {listed}"
        rows = raw_sql.fetch_all(conn, sql, [workspace_id, *listed_params])
    return {
        device_id: Device(
            device_id,
            int(uid),
            platform,
            push_id,
            bool(opted_out),
            msgspec.json.decode(attributes),
            exists=True,
        )
        for device_id, uid, platform, push_id, opted_out, attributes in rows
    }


def save(conn: Connection, workspace_id: str, devices: Collection[Device], now: int) -> None:
    """Insert new devices and update existing ones, in two statements."""
    new, old = rows_to_save(workspace_id, devices, now)
    save_rows(conn, new, old)


def rows_to_save(
    workspace_id: str, devices: Collection[Device], now: int
) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
    """The rows ``save_rows`` writes for these devices (a snapshot of them as they are now):
    the new ones' and the stored ones'."""
    new = [_row(workspace_id, d, now) | {"created_at": now} for d in devices if not d.exists]
    old = [_row(workspace_id, d, now) for d in devices if d.exists]
    return [tuple(r[c] for c in _NEW_COLUMNS) for r in new], [
        {"b_workspace_id": r["workspace_id"], "b_device_id": r["device_id"]}
        | {k: r[k] for k in ("uid", "platform", "push_id", "push_opted_out", "attributes")}
        | {"b_updated_at": now}
        for r in old
    ]


def save_rows(conn: Connection, new: list[tuple[Any, ...]], old: list[dict[str, Any]]) -> None:
    """Write rows made by ``rows_to_save``."""
    if new:
        raw_sql.insert_rows(conn, "devices", _NEW_COLUMNS, new)
    if old:
        conn.execute(
            sa.update(t)
            .where(
                t.c.workspace_id == sa.bindparam("b_workspace_id"),
                t.c.device_id == sa.bindparam("b_device_id"),
            )
            .values(
                uid=sa.bindparam("uid"),
                platform=sa.bindparam("platform"),
                push_id=sa.bindparam("push_id"),
                push_opted_out=sa.bindparam("push_opted_out"),
                attributes=sa.bindparam("attributes"),
                updated_at=sa.bindparam("b_updated_at"),
            ),
            old,
        )


#: ``_row`` order, then ``created_at``.
_NEW_COLUMNS = (
    "workspace_id",
    "device_id",
    "uid",
    "platform",
    "push_id",
    "push_opted_out",
    "attributes",
    "updated_at",
    "created_at",
)


def of_customer(conn: Connection, uid: int) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(t).where(t.c.uid == uid).order_by(t.c.created_at, t.c.device_id))
    return [dict(r._mapping) for r in rows]


def _row(workspace_id: str, d: Device, now: int) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "device_id": d.device_id,
        "uid": d.uid,
        "platform": d.platform,
        "push_id": d.push_id,
        "push_opted_out": d.push_opted_out,
        "attributes": _encode(d.attributes).decode(),
        "updated_at": now,
    }


def remove(conn: Connection, workspace_id: str, uid: int, device_id: str) -> bool:
    """Delete the customer's device; ``False`` if it has none of that id."""
    query = sa.delete(t).where(
        t.c.workspace_id == workspace_id, t.c.device_id == device_id, t.c.uid == uid
    )
    return bool(conn.execute(query).rowcount)
