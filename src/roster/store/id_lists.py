"""``column IN (the ids of a batch)`` as one parameter, whatever the number of ids.

A batch names hundreds of customers. Sending them as one JSON text keeps the statement's text
constant, so it is compiled once: ``IN (SELECT json_array_elements_text(:ids))`` on PostgreSQL
and ``IN (SELECT value FROM json_each(:ids))`` on SQLite. On PostgreSQL a JSON text, not an
array: psycopg spends about 30 µs per string building an array literal (escaping every quote),
encoding the list as JSON takes well under one, and PostgreSQL plans a set-returning function
over it as an index nested loop whatever the table's statistics say.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec
import sqlalchemy as sa


def among(column: sa.ColumnElement[Any], values: Collection[Any], dialect: str) -> Any:
    """A condition true when ``column`` is one of ``values``."""
    encoded = msgspec.json.encode(list(values)).decode()
    listed: sa.Select[Any]
    if dialect == "postgresql":
        element: Any = sa.func.json_array_elements_text(
            sa.cast(sa.bindparam(None, encoded), sa.JSON)
        )
        if not isinstance(column.type, sa.String):
            element = sa.cast(element, column.type)
        listed = sa.select(element)
    else:
        each = sa.func.json_each(sa.bindparam(None, encoded))
        listed = sa.select(sa.column("value")).select_from(each)
    return column.in_(listed.scalar_subquery())
