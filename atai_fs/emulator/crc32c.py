"""CRC32C (Castagnoli), the whole-file checksum of ``integrity_algorithm == "crc32c"``.

Pure Python and table driven: no compiled dependency for an offline test server.
It runs only when a client sends ``integrity_checksum``.
"""

from __future__ import annotations

import base64

_POLY = 0x82F63B78  # reflected Castagnoli polynomial


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc32c_update(crc: int, data: bytes) -> int:
    """Extend a running CRC32C (start from 0) with ``data``."""
    table = _TABLE
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_base64(crc: int) -> str:
    """The wire form: base64 of the 4-byte big-endian digest (GCS convention)."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")
