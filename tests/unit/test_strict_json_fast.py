"""The fast path of strict decoding never accepts what the exact path refuses, nor decodes a body
to another value: generated bodies full of the traps (duplicate keys, escapes, big integers,
deep nesting, brackets and colons inside strings) go through both."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roster.domain.errors import MalformedBody
from roster.formats.strict_json import UNPROVEN, loads_exact, loads_fast

# Pieces of string content chosen to hit every byte-level shortcut of the fast path.
_STRING_PIECES = st.sampled_from(
    [
        "a",
        "Zoë",
        "😀",
        ":",
        "[",
        "]",
        "{",
        "}",
        '\\"',
        "\\\\",
        "\\n",
        "\\u003a",
        "\\u003A",
        "\\u0000",
        "\\ud800",
        "\\ud83d\\ude00",
        "\\u00e9",
        "1234567890123456789",
        '\\\\"',
    ]
)
_STRINGS = st.lists(_STRING_PIECES, max_size=4).map(lambda parts: '"' + "".join(parts) + '"')
_NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["9223372036854775807", "-9223372036854775808", "9223372036854775808"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e400", "-1e400", "1e-400", "0.5", "-0", "1E5", "NaN", "Infinity"]),
)
_SCALARS = st.one_of(_STRINGS, _NUMBERS, st.sampled_from(["true", "false", "null"]))
_KEYS = st.sampled_from(['"a"', '"b"', '"a:b"', '"[x]"', '"\\u0061"', '"\\u003a"', '""'])


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    arrays = st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
    members = st.lists(st.tuples(_KEYS, children), max_size=4)
    objects = members.map(lambda kv: "{" + ",".join(f"{k}: {v}" for k, v in kv) + "}")
    return arrays | objects


_DOCUMENTS = st.recursive(_SCALARS, _containers, max_leaves=30)


def _exact(body: bytes, max_depth: int) -> object:
    try:
        return loads_exact(body, max_depth)
    except MalformedBody:
        return MalformedBody


@settings(max_examples=400, deadline=None)
@given(document=_DOCUMENTS, max_depth=st.integers(min_value=1, max_value=6))
def test_fast_path_agrees_with_the_exact_path(document: str, max_depth: int) -> None:
    """Whatever the fast path decodes, the exact path decodes to the same value."""
    body = document.encode()
    fast = loads_fast(body, max_depth)
    if fast is UNPROVEN:
        return
    exact = _exact(body, max_depth)
    assert exact is not MalformedBody, f"fast path accepted a body the exact path refuses: {body!r}"
    assert json.dumps(fast, sort_keys=True) == json.dumps(exact, sort_keys=True)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 1}',
        b'{"a": {"b": 1}, "a": 2}',
        b'{"x": [{"k": ":", "k": ":"}]}',
        b'{"a\\u003a": 1, "a:": 1}',
        b"[9223372036854775808]",
        b'["\\u0000"]',
        b'["\\ud800"]',
        b"[1e400]",
        b"[NaN]",
        b"[[[[[]]]]]",
    ],
)
def test_fast_path_leaves_every_trap_to_the_exact_path(body: bytes) -> None:
    """Duplicates, hidden colons, big integers, NUL, surrogates, overflow, NaN and deep nesting
    are never decoded by the fast path (the last one is 5 deep against a limit of 4)."""
    assert loads_fast(body, 4) is UNPROVEN
    with pytest.raises(MalformedBody):
        loads_exact(body, 4)


def test_fast_path_decodes_brackets_and_colons_inside_strings() -> None:
    """A clean body with brackets, quotes and colons inside its strings takes the fast path."""
    body = b'{"a": "[[{:}]]", "b": ["\\"]", "\\\\"], "c": {"d": "x:y"}}'
    assert loads_fast(body, 3) == json.loads(body)
    assert loads_fast(b"[[[]]]", 3) == [[[]]]
