"""The event row: one named shape, in the ``events`` table's column order."""

from __future__ import annotations

from roster.store.events import COLUMNS, EventDraft, EventRow
from roster.store.schema import events as table


def test_the_columns_are_the_row_fields_and_the_table_columns() -> None:
    """The row's fields are the table's columns (but its id), and a draft is a row without
    its owner's three columns."""
    assert EventRow._fields == COLUMNS
    assert {c.name for c in table.columns} - {"id"} == set(COLUMNS)
    assert ("workspace_id", "uid", "origin_uid", *EventDraft._fields) == COLUMNS


def test_a_draft_with_its_owner_is_the_row() -> None:
    """A draft completed with its owner's columns is the row with the same values."""
    values = {name: f"value of {name}" for name in EventDraft._fields}
    draft = EventDraft(**values)  # type: ignore[arg-type]
    row = EventRow(workspace_id="w", uid=7, origin_uid=7, **values)  # type: ignore[arg-type]
    assert ("w", 7, 7, *draft) == row
