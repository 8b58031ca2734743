"""Single ``Range`` headers of downloads (RFC 9110 byte ranges, one range only)."""

from __future__ import annotations


class Unsatisfiable(Exception):
    """The range starts past the end: answer 416."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Half-open ``(start, end)`` of a single-range ``Range`` header.

    None means "send the whole file": no header, a syntax we ignore (RFC 9110 allows
    ignoring Range), or several ranges. Raises :class:`Unsatisfiable` for a 416.
    """
    if not header or not header.startswith("bytes="):
        return None
    spec = header[len("bytes=") :].strip()
    if "," in spec:
        return None
    first, dash, last = spec.partition("-")
    if not dash or not (first or last) or not (first.isdigit() or not first):
        return None
    if last and not last.isdigit():
        return None
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - n), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    end = min(int(last) + 1, size) if last else size
    return start, end
