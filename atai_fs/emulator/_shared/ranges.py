"""Single ``Range`` headers of downloads (RFC 9110 byte ranges, one range only)."""

from __future__ import annotations

import re

_RANGE = re.compile(r"bytes=[ \t]*([0-9]*)-([0-9]*)[ \t]*", re.ASCII)
"""RFC 9110 ``int-range`` or ``suffix-range``: ASCII digits only (``str.isdigit`` and
``int`` also take ``²`` or ``\u0661``)."""

_MAX_DIGITS = 18
"""Longer positions are past the end of any file: never converted (``int`` refuses more
than 4300 digits)."""
_BEYOND_ANY_FILE = 10**_MAX_DIGITS


class Unsatisfiable(Exception):
    """The range starts past the end: answer 416."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Half-open ``(start, end)`` of a single-range ``Range`` header.

    None means "send the whole file": no header, a syntax we ignore (RFC 9110 allows
    ignoring Range), or several ranges. Raises :class:`Unsatisfiable` for a 416.
    """
    match = _RANGE.fullmatch(header) if header else None
    if match is None or not any(match.groups()):
        return None
    first, last = match.groups()
    if not first:  # suffix: the last N bytes
        n = _position(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - n), size
    start = _position(first)
    if last and _position(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    end = min(_position(last) + 1, size) if last else size
    return start, end


def _position(digits: str) -> int:
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= _MAX_DIGITS else _BEYOND_ANY_FILE
