"""CRC32C (Castagnoli), the emulator's own: what a storage computes to check an upload.

The emulator must not borrow the client's checksum code (a shared bug would pass every
test), so it has its own: the compiled ``google_crc32c`` library when it is installed (a
separate project, not client code), else a table-driven pure-Python loop, slow but enough
for test-sized files.
"""

from __future__ import annotations

from collections.abc import Callable

_POLYNOMIAL = 0x82F63B78
"""The Castagnoli polynomial, bit-reflected (RFC 3720, appendix B.4)."""


def _table() -> tuple[int, ...]:
    rows = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL if crc & 1 else crc >> 1
        rows.append(crc)
    return tuple(rows)


_TABLE = _table()


def _extend_in_python(crc: int, data: bytes) -> int:
    table = _TABLE
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _compiled() -> Callable[[int, bytes], int] | None:
    try:
        import google_crc32c
    except ImportError:
        return None
    extend: Callable[[int, bytes], int] = google_crc32c.extend
    return extend


extend: Callable[[int, bytes], int] = _compiled() or _extend_in_python
"""``extend(crc, data)``: the CRC32C of what ``crc`` covered followed by ``data`` (start at 0)."""
