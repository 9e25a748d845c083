"""Creating, listing, deleting operators and setting their passwords (``roster user ...``)."""

from __future__ import annotations

import time
from typing import Any

from roster.domain.element_rules import excerpt
from roster.domain.errors import Conflict, NotFound
from roster.domain.operators import Operator, check_password, operator_email, operator_role
from roster.domain.timestamps import format_optional_ms
from roster.services.operators.passwords import hash_password
from roster.store import operators
from roster.store.database import Database


def create(db: Database, email: str, password: str, role: str = "viewer") -> Operator:
    address, chosen = operator_email(email), operator_role(role)
    hashed = hash_password(check_password(password))  # slow: before the write transaction
    now = _now()
    with db.write() as conn:
        if operators.exists(conn, address):
            raise Conflict(f"an operator {excerpt(address)} exists already", field="email")
        operator_id = operators.insert(conn, address, hashed, chosen, now)
    return Operator(operator_id, address, chosen, now, now)


def list_all(db: Database) -> list[dict[str, Any]]:
    """Every operator as ``roster user list`` shows it (never the password hash)."""
    with db.read() as conn:
        rows = operators.list_all(conn)
    return [
        {
            "email": r["email"],
            "role": r["role"],
            "created_at": format_optional_ms(r["created_at"]),
            "last_sign_in_at": format_optional_ms(r["last_sign_in_at"]),
            "failed_sign_ins": r["failed_sign_ins"],
            "last_failed_at": format_optional_ms(r["last_failed_at"]),
        }
        for r in rows
    ]


def delete(db: Database, email: str) -> str:
    """Remove an operator; its sessions stop working at their next request. Returns its email
    as stored."""
    address = operator_email(email)
    with db.write() as conn:
        if not operators.delete(conn, address):
            raise NotFound(f"no operator {excerpt(address)}", field="email")
    return address


def set_password(db: Database, email: str, password: str) -> str:
    """A new password; every session signed before it stops working. Returns the operator's
    email as stored."""
    address = operator_email(email)
    hashed = hash_password(check_password(password))
    with db.write() as conn:
        if not operators.set_password(conn, address, hashed, _now()):
            raise NotFound(f"no operator {excerpt(address)}", field="email")
    return address


def _now() -> int:
    return int(time.time() * 1000)


def by_id(db: Database, operator_id: int) -> Operator | None:
    """The operator a session names (``None``: deleted since)."""
    with db.read() as conn:
        return operators.by_id(conn, operator_id)
