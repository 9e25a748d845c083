"""``column IN (the ids of a batch)`` as one parameter, whatever the number of ids.

A batch names hundreds of customers. Sending them as one array (``= ANY(:ids)`` on PostgreSQL)
or one JSON text (``IN (SELECT value FROM json_each(:ids))`` on SQLite) keeps the statement's
text constant, so it is compiled once, and lets PostgreSQL plan an index scan over the array.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def among(column: sa.ColumnElement[Any], values: Collection[Any], dialect: str) -> Any:
    """A condition true when ``column`` is one of ``values``."""
    if dialect == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)
    encoded = msgspec.json.encode(list(values)).decode()
    each = sa.func.json_each(sa.bindparam(None, encoded))
    listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(each)
    return column.in_(listed.scalar_subquery())
