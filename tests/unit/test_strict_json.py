"""Strict I-JSON decoding of request bodies: every refusal is a MalformedBody naming its rule."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roster.domain.errors import MalformedBody
from roster.formats.strict_json import loads_strict


def refusal(body: bytes, **kwargs: Any) -> MalformedBody:
    with pytest.raises(MalformedBody) as caught:
        loads_strict(body, **kwargs)
    return caught.value


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_decodes_a_plain_object() -> None:
    """A well-formed body decodes to the same value the stdlib gives."""
    body = b'{"type": "transition", "elements": [{"a": 1, "b": [true, null, 1.5, "x"]}]}'
    assert loads_strict(body) == json.loads(body)


def test_scalar_top_level_values_are_accepted() -> None:
    """A top-level scalar is valid JSON and decodes as is."""
    assert loads_strict(b'"hello"') == "hello"
    assert loads_strict(b"42") == 42


def test_leading_bom_is_ignored() -> None:
    """A UTF-8 byte-order mark before the JSON is ignored."""
    assert loads_strict(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_empty_body_is_refused() -> None:
    """An empty body is refused as empty."""
    assert refusal(b"").message == "request body is empty"


def test_bom_only_and_whitespace_only_bodies_count_as_empty() -> None:
    """A body holding only a BOM or only whitespace is refused as empty."""
    assert refusal(b"\xef\xbb\xbf").message == "request body is empty"
    assert refusal(b" \r\n\t").message == "request body is empty"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff",
        b'{"a": "\xff"}',
        b'{"a": "\xed\xa0\x80"}',  # an encoded surrogate is not UTF-8
        '{"a": 1}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-16-le"),
        '{"a": 1}'.encode("utf-32"),
    ],
)
def test_bodies_that_are_not_utf8_are_refused(body: bytes) -> None:
    """Stray bytes, encoded surrogates, UTF-16 and UTF-32 are refused as not UTF-8."""
    error = refusal(body)
    assert "body is not valid UTF-8" in error.message
    assert error.field is None


def test_non_ascii_utf8_is_accepted() -> None:
    """Non-ASCII text in UTF-8 decodes to the same characters."""
    assert loads_strict('{"name": "Zoë 😀"}'.encode()) == {"name": "Zoë 😀"}


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b'{"a": 1} x', "Extra data"),
        (b'{"a": 1}{"b": 2}', "Extra data"),
        (b'{"a": 1,}', "Expecting property name"),
        (b"{'a': 1}", "Expecting property name"),
        (b'{"a": "tab\there"}', "Invalid control character"),
        (b"[1, 2", "Expecting"),
    ],
)
def test_invalid_json_is_refused_with_its_position(body: bytes, rule: str) -> None:
    """Invalid JSON and trailing data are refused with json's rule, line and column."""
    error = refusal(body)
    assert error.message.startswith("body is not valid JSON")
    assert rule in error.message
    assert "line 1 column" in error.message


def test_invalid_json_reports_the_line() -> None:
    """The reported line is the one holding the error."""
    assert "line 3 column" in refusal(b'{\n"a": 1,\n"b": }').message


def test_duplicate_keys_are_refused_with_key_and_path() -> None:
    """A duplicate key is refused, naming the key and the path to it."""
    body = b'{"elements": [{}, {}, {}, {"attributes": {"name": "a", "name": "b"}}]}'
    error = refusal(body)
    assert "duplicate key 'name'" in error.message
    assert error.field == "elements[3].attributes.name"


def test_duplicate_top_level_key_names_the_key() -> None:
    """A duplicate key at the top level is named as the field."""
    assert refusal(b'{"type": "a", "type": "b"}').field == "type"


def test_keys_that_are_not_identifiers_are_quoted_in_paths() -> None:
    """A key that is not an identifier appears quoted in brackets in the path."""
    assert refusal(b'{"a b": {"x": 1, "x": 2}}').field == '["a b"].x'


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_constants_are_refused(constant: bytes) -> None:
    """NaN, Infinity and -Infinity are refused with their path."""
    error = refusal(b'{"a": [' + constant + b"]}")
    assert constant.decode() in error.message
    assert error.field == "a[0]"


def test_top_level_nan_is_refused_without_a_field() -> None:
    """A bare NaN body is refused, with no field to name."""
    error = refusal(b"NaN")
    assert "NaN" in error.message
    assert error.field is None


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1.5e309"])
def test_floats_that_overflow_are_refused(number: bytes) -> None:
    """A number too large for a double is refused, not turned into infinity."""
    error = refusal(b'{"score": ' + number + b"}")
    assert "not finite" in error.message
    assert error.field == "score"


def test_large_finite_floats_are_accepted() -> None:
    """The largest finite doubles are accepted."""
    assert loads_strict(b"[1.7976931348623157e308, 5e-324]") == [1.7976931348623157e308, 5e-324]


def test_largest_signed_64_bit_integer_is_accepted() -> None:
    """2**63 - 1 is the largest integer accepted."""
    assert loads_strict(str(2**63 - 1).encode()) == 2**63 - 1


def test_integer_just_beyond_64_bits_is_refused() -> None:
    """2**63 is refused as outside the signed 64-bit range."""
    error = refusal(b'{"n": ' + str(2**63).encode() + b"}")
    assert "signed 64-bit range" in error.message
    assert error.field == "n"


def test_smallest_signed_64_bit_integer_is_accepted() -> None:
    """-2**63 is the smallest integer accepted."""
    assert loads_strict(str(-(2**63)).encode()) == -(2**63)


def test_integer_just_below_64_bits_is_refused() -> None:
    """-2**63 - 1 is refused as outside the signed 64-bit range."""
    assert "signed 64-bit range" in refusal(str(-(2**63) - 1).encode()).message


def test_integer_beyond_python_digit_limit_is_refused_not_crashed() -> None:
    """An integer of 5,000 digits is refused, with a clipped message, never a ValueError."""
    error = refusal(b"[" + b"7" * 5000 + b"]")
    assert "signed 64-bit range" in error.message
    assert len(error.message) < 200


def test_depth_at_the_limit_is_accepted() -> None:
    """Containers nested exactly max_depth (32) levels are accepted."""
    assert loads_strict(nested(32)) is not None


def test_depth_beyond_the_limit_is_refused() -> None:
    """Containers nested 33 levels are refused, with the path to the deepest one."""
    error = refusal(nested(33))
    assert "deeper than 32 levels" in error.message
    assert error.field == "[0]" * 32


def test_depth_counts_objects_and_arrays_alike() -> None:
    """Objects count as nesting levels just as arrays do."""
    body = b'{"a": ' * 16 + b"[" * 16 + b"]" * 16 + b"}" * 16
    assert loads_strict(body) is not None
    assert "deeper than 32" in refusal(b'{"a": ' * 17 + b"[" * 16 + b"]" * 16 + b"}" * 17).message


def test_max_depth_is_configurable() -> None:
    """A smaller max_depth refuses what the default accepts."""
    assert loads_strict(nested(2), max_depth=2) == [[]]
    assert "deeper than 2 levels" in refusal(nested(3), max_depth=2).message


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a": ' * 50_000, nested(100_000)])
def test_absurd_nesting_is_refused_without_recursion_error(body: bytes) -> None:
    """100,000 levels of nesting are refused as too deep, never a RecursionError."""
    assert "deeper than 32 levels" in refusal(body).message


def test_nul_in_a_string_value_is_refused_with_its_path() -> None:
    """A NUL character in a string value is refused, naming the value's path."""
    error = refusal(b'{"elements": [0, 1, 2, {"attributes": {"name": "a\\u0000b"}}]}')
    assert "NUL" in error.message
    assert error.field == "elements[3].attributes.name"


def test_nul_in_a_key_is_refused() -> None:
    """A NUL character in an object key is refused."""
    assert "NUL" in refusal(b'{"a\\u0000": 1}').message


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udbff", b"\\udc00", b"\\uDFFF"])
def test_lone_surrogates_in_values_are_refused(escape: bytes) -> None:
    """A lone surrogate escape in a string value is refused with its path."""
    error = refusal(b'{"list": ["ok", "x' + escape + b'"]}')
    assert "lone surrogate" in error.message
    assert error.field == "list[1]"


def test_lone_surrogate_in_a_key_is_refused() -> None:
    """A lone surrogate escape in an object key is refused."""
    assert "lone surrogate" in refusal(b'{"k\\ud800": 1}').message


def test_reversed_surrogate_pair_is_refused() -> None:
    """A low surrogate followed by a high one is two lone surrogates, refused."""
    assert "lone surrogate" in refusal(b'"\\udc00\\ud800"').message


def test_top_level_string_with_nul_is_refused() -> None:
    """A top-level string holding a NUL is refused, with no field to name."""
    error = refusal(b'"\\u0000"')
    assert "NUL" in error.message
    assert error.field is None


def test_escaped_surrogate_pair_is_accepted() -> None:
    """A valid surrogate pair escape decodes to the astral character it encodes."""
    assert loads_strict(b'{"e": "\\ud83d\\ude00"}') == {"e": "😀"}


def test_escaped_backslash_before_u_is_not_an_escape() -> None:
    """A literal backslash followed by u0000 is plain text, not a NUL."""
    assert loads_strict(b'["\\\\u0000"]') == ["\\u0000"]


json_safe_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_safe_text,
    lambda children: st.lists(children) | st.dictionaries(json_safe_text, children),
    max_leaves=30,
)


@given(json_values, st.booleans())
def test_json_safe_values_round_trip(value: object, ensure_ascii: bool) -> None:
    """Any JSON-safe value serialised by json.dumps decodes back to itself."""
    body = json.dumps(value, ensure_ascii=ensure_ascii).encode()
    assert loads_strict(body, max_depth=100) == value


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_malformed_body(body: bytes) -> None:
    """Whatever the bytes, the result is a value or a MalformedBody, never another error."""
    with contextlib.suppress(MalformedBody):
        loads_strict(body)
