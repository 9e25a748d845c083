"""The operators table: the dashboard's users, and their failed sign-in bookkeeping."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from roster.domain.operators import Operator, Role
from roster.store.schema import operators as t


def insert(conn: Connection, email: str, password_hash: str, role: Role, now_ms: int) -> int:
    result = conn.execute(
        sa.insert(t)
        .values(
            email=email,
            password_hash=password_hash,
            role=str(role),
            created_at=now_ms,
            password_set_at=now_ms,
        )
        .returning(t.c.id)
    )
    return int(result.scalar_one())


def exists(conn: Connection, email: str) -> bool:
    return conn.execute(sa.select(t.c.id).where(t.c.email == email)).first() is not None


def by_email(conn: Connection, email: str) -> tuple[Operator, str] | None:
    """The operator and its password hash."""
    row = conn.execute(sa.select(t).where(t.c.email == email)).mappings().first()
    return (_operator(row), row["password_hash"]) if row else None


def by_id(conn: Connection, operator_id: int) -> Operator | None:
    row = conn.execute(sa.select(t).where(t.c.id == operator_id)).mappings().first()
    return _operator(row) if row else None


def list_all(conn: Connection) -> list[dict[str, Any]]:
    """Every operator with its bookkeeping, by email (never the hash)."""
    query = sa.select(*(c for c in t.c if c.name != "password_hash")).order_by(t.c.email)
    return [dict(r) for r in conn.execute(query).mappings()]


def delete(conn: Connection, email: str) -> bool:
    return conn.execute(sa.delete(t).where(t.c.email == email)).rowcount == 1


def set_password(conn: Connection, email: str, password_hash: str, now_ms: int) -> bool:
    result = conn.execute(
        sa.update(t)
        .where(t.c.email == email)
        .values(password_hash=password_hash, password_set_at=now_ms, failed_sign_ins=0)
    )
    return result.rowcount == 1


def signed_in(conn: Connection, operator_id: int, now_ms: int) -> None:
    conn.execute(
        sa.update(t).where(t.c.id == operator_id).values(last_sign_in_at=now_ms, failed_sign_ins=0)
    )


def failed(conn: Connection, email: str, now_ms: int) -> None:
    conn.execute(
        sa.update(t)
        .where(t.c.email == email)
        .values(failed_sign_ins=t.c.failed_sign_ins + 1, last_failed_at=now_ms)
    )


def _operator(row: Any) -> Operator:
    return Operator(
        id=int(row["id"]),
        email=row["email"],
        role=Role(row["role"]),
        created_at=int(row["created_at"]),
        password_set_at=int(row["password_set_at"]),
        last_sign_in_at=row["last_sign_in_at"],
    )


def set_password_hash(conn: Connection, operator_id: int, password_hash: str) -> None:
    """The same password, hashed again (at a new cost): sessions stay valid."""
    conn.execute(sa.update(t).where(t.c.id == operator_id).values(password_hash=password_hash))
