"""Strict I-JSON (RFC 7493) decoding of request bodies, refused at the door.

``loads_strict`` turns a request body into Python values, or raises ``MalformedBody`` naming the
rule broken and, where it is known, the JSON path of the offending value
(``elements[3].attributes.name``). Refused: an empty body, bytes that are not UTF-8, invalid JSON
or trailing data, duplicate keys, ``NaN``/``Infinity``, numbers that overflow a double, integers
outside the signed 64-bit range, strings holding a NUL or a lone surrogate, and containers nested
deeper than ``max_depth``. A leading UTF-8 byte-order mark is ignored.

Two paths give the same answer. The fast path decodes with msgspec (in C) and proves in a few
byte-level passes that the body breaks no rule msgspec lets through: no ``\\u`` escape of a NUL,
a surrogate or a colon, no digit run long enough to leave 64 bits, no duplicate key (every colon
of the body is still in the re-encoded value: a dropped duplicate would take its colon with it),
and no nesting deeper than ``max_depth``. Whatever it cannot prove goes to the exact path.

The exact path uses the stdlib decoder, whose hooks never raise: they leave a ``_Refused`` marker
in the tree. A fast iterative check then looks for markers, excess depth and bad strings without
tracking paths; only when it finds one does a second walk, keeping parent links, rebuild the
offending value's path and raise.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from itertools import accumulate
from typing import Any, NamedTuple

import msgspec

from roster.domain.element_rules import excerpt, field_name
from roster.domain.errors import MalformedBody

_BOM = b"\xef\xbb\xbf"
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
# Decoded strict UTF-8 holds no surrogates and json refuses raw control characters, so a NUL or
# a lone surrogate can only come from a \u escape: without one, no string needs checking.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
# The fast path leaves to the exact one: escapes of a NUL, a surrogate (even a valid pair) or a
# colon (it would hide a key from the colon count), and any run of 19 digits (an integer that may
# leave 64 bits; a string holding such digits only costs speed). The digits are found by a plain
# byte search; the regex runs only over bodies that hold a backslash.
_FAST_PATH_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F]|003[aA])")
_DIGITS_AS_ZERO = bytes(ord("0") if chr(b).isdigit() and b < 128 else b for b in range(256))
_NINETEEN_DIGITS = b"0" * 19
_NOT_BRACKET_OR_QUOTE = bytes(b for b in range(256) if b not in b'{}[]"')
_QUOTED = re.compile(rb'"[^"]*"')
_DEPTH_STEP = [0] * 256
for _b in b"{[":
    _DEPTH_STEP[_b] = 1
for _b in b"}]":
    _DEPTH_STEP[_b] = -1
_decode_fast = msgspec.json.Decoder().decode
_encode_fast = msgspec.json.Encoder().encode


class _Refused:
    """Stands in the decoded tree for a value that breaks a rule, so its path can be named."""

    __slots__ = ("key", "message")

    def __init__(self, message: str, key: str | None = None) -> None:
        self.message = message
        self.key = key


class _Frame(NamedTuple):
    """A container met during the walk, with its depth and the way back to the root."""

    value: Any
    depth: int
    parent: _Frame | None
    key: str | int


def _object_pairs(pairs: list[tuple[str, Any]]) -> Any:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    key = next(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    return _Refused(f"duplicate key {excerpt(key)} (I-JSON forbids duplicate keys)", key)


def _constant(name: str) -> Any:
    return _Refused(f"{name} is not allowed (I-JSON numbers must be finite)")


def _float(text: str) -> Any:
    value = float(text)
    if math.isfinite(value):
        return value
    return _Refused(f"number {_clip(text)} overflows a double (not finite)")


def _int(text: str) -> Any:
    if len(text) <= 20:  # "-9223372036854775808" is 20 characters long
        value = int(text)
        if _INT_MIN <= value <= _INT_MAX:
            return value
    return _Refused(f"integer {_clip(text)} is outside the signed 64-bit range")


def loads_strict(body: bytes, *, max_depth: int = 32) -> object:
    """Decode ``body`` as strict I-JSON, or raise ``MalformedBody`` naming the rule broken."""
    fast = loads_fast(body, max_depth)
    return loads_exact(body, max_depth) if fast is UNPROVEN else fast


def loads_exact(body: bytes, max_depth: int = 32) -> object:
    """The exact path: the stdlib decoder with hooks, and the rule broken named with its path."""
    text = _decode_utf8(body)
    value = _parse(text, max_depth)
    check_strings = _SUSPECT_ESCAPE.search(text) is not None
    if not _is_clean(value, max_depth, check_strings=check_strings):
        _raise_first_violation(value, max_depth, check_strings=check_strings)
    return value


#: What ``loads_fast`` returns when it cannot prove a body clean.
UNPROVEN = object()


def loads_fast(body: bytes, max_depth: int = 32) -> object:
    """The decoded body when it provably breaks no rule, else ``UNPROVEN``: the value is then
    the one ``loads_exact`` gives."""
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    if b"\x00" in body or _NINETEEN_DIGITS in body.translate(_DIGITS_AS_ZERO):
        return UNPROVEN
    escaped = b"\\" in body
    if escaped and _FAST_PATH_ESCAPE.search(body) is not None:
        return UNPROVEN
    try:
        value = _decode_fast(body)
    except Exception:  # malformed, or not UTF-8: the exact path says which
        return UNPROVEN
    if body.count(b":") != _encode_fast(value).count(b":"):
        return UNPROVEN  # a duplicate key was dropped
    if _nesting(body, escaped=escaped) > max_depth:
        return UNPROVEN
    return value


def _nesting(body: bytes, *, escaped: bool) -> int:
    """How deeply the containers of a well-formed JSON body nest (``[[]]`` is 2)."""
    if escaped:  # escaped backslashes, then escaped quotes: every quote left delimits a string
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = body.translate(None, _NOT_BRACKET_OR_QUOTE)
    brackets = marks.replace(b'""', b"")  # the strings that hold no bracket
    if b'"' in brackets:  # some string holds a bracket (a quote is left whenever one does)
        brackets = _QUOTED.sub(b"", marks)
    if not brackets:
        return 0
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)))


def _decode_utf8(body: bytes) -> str:
    if body.startswith(_BOM):
        body = body[len(_BOM) :]
    nul = body.find(b"\x00")
    if nul >= 0:
        raise MalformedBody(
            f"body is not valid UTF-8 JSON: NUL byte at offset {nul} (UTF-16/32 is not accepted)"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"body is not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    if not text or text.isspace():
        raise MalformedBody("request body is empty")
    return text


def _parse(text: str, max_depth: int) -> Any:
    try:
        return json.loads(
            text,
            object_pairs_hook=_object_pairs,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
    except json.JSONDecodeError as exc:
        raise MalformedBody(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedBody(f"JSON nested deeper than {max_depth} levels") from None


def _is_clean(root: Any, max_depth: int, *, check_strings: bool) -> bool:
    """Fast breadth-first check, one level at a time, that keeps no paths."""
    level: list[Any] = [[root]]  # a virtual container at depth 0 holds the root
    depth = 0
    while level:
        if depth > max_depth:
            return False
        below: list[Any] = []
        for node in level:
            if check_strings and _has_bad_string(node):
                return False
            for child in node.values() if type(node) is dict else node:
                kind = type(child)
                if kind is dict or kind is list:
                    below.append(child)
                elif kind is _Refused:
                    return False
        level, depth = below, depth + 1
    return True


def _has_bad_string(node: dict[str, Any] | list[Any]) -> bool:
    children = node.values() if type(node) is dict else node
    strings = [child for child in children if type(child) is str]
    if type(node) is dict:
        strings.extend(node)
    return _BAD_CHAR.search("".join(strings)) is not None


def _raise_first_violation(root: Any, max_depth: int, *, check_strings: bool) -> None:
    """Walk depth-first keeping parent links, and raise ``MalformedBody`` at the first violation."""
    stack = [_Frame([root], 0, None, 0)]  # a virtual container at depth 0 holds the root
    while stack:
        frame = stack.pop()
        pairs = frame.value.items() if type(frame.value) is dict else enumerate(frame.value)
        for key, child in pairs:
            if check_strings and isinstance(key, str):
                _check_string(key, frame, key)
            kind = type(child)
            if (kind is dict or kind is list) and frame.depth == max_depth:
                raise MalformedBody(
                    f"JSON nested deeper than {max_depth} levels", field=_path(frame, key)
                )
            if kind is dict or kind is list:
                stack.append(_Frame(child, frame.depth + 1, frame, key))
            elif kind is _Refused:
                raise MalformedBody(child.message, field=_path(frame, key, child.key))
            elif kind is str and check_strings:
                _check_string(child, frame, key)
    raise MalformedBody("body breaks an I-JSON rule")  # pragma: no cover - _is_clean agrees


def _check_string(text: str, frame: _Frame, key: str | int) -> None:
    found = _BAD_CHAR.search(text)
    if found is None:
        return
    char = found.group()
    rule = "a NUL character" if char == "\x00" else "a lone surrogate"
    message = f"string contains {rule} (U+{ord(char):04X}), which I-JSON forbids"
    raise MalformedBody(message, field=_path(frame, key))


def _path(frame: _Frame, key: str | int, *more: str | None) -> str | None:
    """Rebuild ``a.b[3].c`` for ``key`` in ``frame`` from parent links, then add ``more``."""
    keys: list[str | int] = [k for k in more if k is not None]
    while frame.parent is not None:
        keys.insert(0, key)  # the virtual root's own key leads nowhere, so it is left out
        key, frame = frame.key, frame.parent
    parts = [_step(k, first=i == 0) for i, k in enumerate(keys)]
    return "".join(parts) or None


def _step(key: str | int, *, first: bool) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    key = field_name(key)  # a 90,000-character key is named by an excerpt
    if key.isidentifier():
        return key if first else f".{key}"
    return f"[{json.dumps(key)}]"


def _clip(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"
