"""Issue CSVs open safely in a spreadsheet: what a client sent never runs as a formula."""

from __future__ import annotations

from roster.services.reads.runs import safe_cell


def test_csv_cells_a_spreadsheet_would_run_are_defused() -> None:
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("+1") == "'+1"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("-cmd") == "'-cmd"
    assert safe_cell("-12") == "-12"  # a negative number stays a number
    assert safe_cell("ada") == "ada"
    assert safe_cell(3) == 3
    assert safe_cell(None) is None
