"""The table of batch kinds is the one place a kind is named and described."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from roster.services.apply import kinds
from roster.services.apply.kinds import KINDS, Kind

SRC = Path(kinds.__file__).resolve().parents[2]
#: Strings equal to a kind's name that are not kind names: (module, string) -> why.
NOT_KINDS = {
    ("api/schemas.py", "transition"): "the MoEngage body's own `type` member, in OpenAPI",
    ("formats/moengage.py", "transition"): "the MoEngage body's own `type` member, checked",
    ("domain/merges.py", "customerio"): "the name of Customer.io's merge rule",
    ("services/book/merging.py", "customerio"): "the name of Customer.io's merge rule",
    ("services/apply/customerio_v2.py", "customerio"): "the name of Customer.io's merge rule",
    ("loader/kinds.py", "transition"): "`roster load transition`: a KIND of the loader's own",
    ("loader/kinds.py", "customerio"): "`roster load customerio`: a KIND of the loader's own",
}


def _strings(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is str}


def test_no_kind_name_is_written_outside_the_table() -> None:
    """No module of src/roster but services/apply/kinds.py holds a kind's name as a string."""
    table = Path(kinds.__file__).resolve()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if path == table:
            continue
        where = path.relative_to(SRC).as_posix()
        found += [(where, s) for s in _strings(path) & set(KINDS) if (where, s) not in NOT_KINDS]
    assert found == []


def test_the_exceptions_are_still_there() -> None:
    """Each allowed look-alike still exists, so the list of exceptions never grows stale."""
    for where, string in NOT_KINDS:
        assert string in _strings(SRC / where), where


def test_each_kind_is_planned_one_way() -> None:
    """A kind has a planner or a chunk planner, never both, and a chunked kind never groups."""
    for kind in KINDS.values():
        assert (kind.plan is None) != (kind.plan_chunk is None), kind.name
        assert not (kind.chunked and kind.grouped), kind.name
    with pytest.raises(ValueError, match="exactly one"):
        Kind("nothing")
    with pytest.raises(ValueError, match="applied alone"):
        Kind("both", plan_chunk=KINDS["customerio.people_csv"].plan_chunk, grouped=True)


def test_the_table_names_every_kind_once() -> None:
    """The names are unique, and the kinds that group or are read at the door are the ones
    the worker and the API relied on before the table existed."""
    rows = [v for v in vars(kinds).values() if isinstance(v, Kind)]
    assert sorted(k.name for k in rows) == sorted(KINDS)
    grouped = {k.name for k in KINDS.values() if k.grouped}
    assert grouped == {
        "transition",
        "customerio",
        "masivo.customers",
        "masivo.events",
        "masivo.transactions",
    }
    assert {k.name for k in KINDS.values() if k.chunked} == {"customerio.people_csv"}
    assert {k.name for k in KINDS.values() if k.prepare} == {"masivo.events", "masivo.transactions"}
