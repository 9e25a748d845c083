"""The event row: one named shape, built by keywords, in the ``events`` table's column order."""

from __future__ import annotations

import inspect

from roster.store import events
from roster.store.events import COLUMNS, EventDraft, EventRow
from roster.store.schema import events as table


def test_the_columns_are_the_row_fields_and_the_table_columns() -> None:
    assert EventRow._fields == COLUMNS
    assert {c.name for c in table.columns} - {"id"} == set(COLUMNS)
    assert ("workspace_id", "uid", "origin_uid", *EventDraft._fields) == COLUMNS


def test_the_keyword_builders_follow_the_fields() -> None:
    """``row`` and ``draft`` take the fields as keywords and place each one where it belongs."""
    for build, shape in ((events.row, EventRow), (events.draft, EventDraft)):
        assert tuple(inspect.signature(build).parameters) == shape._fields
        values = {name: f"value of {name}" for name in shape._fields}
        built = build(**values)  # type: ignore[operator]
        assert type(built) is shape
        assert built == shape(**values)
        assert built._asdict() == values


def test_a_draft_with_its_owner_is_the_row() -> None:
    values = {name: f"value of {name}" for name in EventDraft._fields}
    draft = events.draft(**values)  # type: ignore[arg-type]
    row = events.row(workspace_id="w", uid=7, origin_uid=7, **values)  # type: ignore[arg-type]
    assert ("w", 7, 7, *draft) == row
