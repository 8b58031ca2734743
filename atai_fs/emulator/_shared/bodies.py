"""Reading what a request body claims to be, JSON or multipart, without ever failing
in a way the client did not cause: every malformed body raises :class:`MalformedBody`,
which each API answers with its own 4xx.

Python's parser alone would turn hostile JSON into a 500: nesting deeper than the
interpreter's recursion limit raises ``RecursionError``, an integer of more than 4300
digits raises a bare ``ValueError``. So nesting and integer length are bounded first,
far above anything the APIs take (a flow definition nests 5 deep; sizes have 13 digits).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects a JSON body may have."""
MAX_INTEGER_DIGITS = 64
"""Most digits a JSON integer may have (a 64-bit integer has at most 20)."""

_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_BRACKET_STEPS = bytes.maketrans(b"[{]}", bytes([1, 1, 255, 255]))
"""Openers to +1 and closers to -1 (255 as a signed byte)."""


class MalformedBody(ValueError):
    """The body is not what its request says it is; the message says what is wrong."""


def parse_json(raw: bytes) -> Any:
    """The JSON value of a UTF-8 body, or :class:`MalformedBody` saying why there is none.

    Stricter than ``json.loads`` where the standard is (RFC 8259: UTF-8, no ``NaN`` or
    ``Infinity``) and where a parser must be (:data:`MAX_JSON_DEPTH`,
    :data:`MAX_INTEGER_DIGITS`).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("the body is not UTF-8 text") from None
    depth = nesting_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise MalformedBody(
            f"the JSON body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted"
        )
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc}") from None


def nesting_depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (exact for valid JSON), in a
    few passes of C code: escaped backslashes and quotes go first, so every quote left
    opens or closes a string, and strings go before brackets are counted."""
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside_strings = b"".join(text.split(b'"')[::2])
    steps = outside_strings.translate(_BRACKET_STEPS, _NOT_BRACKETS)
    return max(accumulate(array("b", steps)), default=0)


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise MalformedBody(
            f"the JSON body has an integer of {len(digits.lstrip('-'))} digits; "
            f"at most {MAX_INTEGER_DIGITS} are accepted"
        )
    return int(digits)


def _no_constant(name: str) -> Any:
    raise MalformedBody(f"the body is not valid JSON: {name} is not a JSON number")


@contextmanager
def multipart_errors() -> Iterator[None]:
    """Around the reading of a multipart body: aiohttp's refusals of a malformed one (no
    or a wrong boundary, a part header with a raw NUL, CR or LF, a body cut short) become
    :class:`MalformedBody`.

    aiohttp raises ``ValueError`` for framing it cannot follow and its HTTP parser's
    errors for part headers it cannot read; both mean the client sent a broken body.
    """
    try:
        yield
    except MalformedBody:
        raise
    except (HttpProcessingError, ValueError) as exc:
        reason = " ".join(str(getattr(exc, "message", None) or exc).split())
        raise MalformedBody(f"the multipart body is malformed: {reason}") from None
