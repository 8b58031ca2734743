"""Checksums the APIs ask for: CRC32C whole-file digests and S3-style MD5 ETags.

CRC32C comes from ``google-crc32c`` (a dependency; its compiled wheels reach GB/s).
Should only a pure-Python CRC32C be available (no wheel for the platform, a broken
install), it still works, at about 12 MB/s, and one WARNING says so the first time it
is used.  Parts are uploaded concurrently and out of order, so each part's CRC is computed while
it is sent and the whole-file value is obtained with :func:`crc32c_combine`, never by
reading the file a second time.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Iterable

__all__ = [
    "FAST_CRC32C",
    "crc32c_base64",
    "crc32c_combine",
    "crc32c_of_parts",
    "crc32c_update",
    "md5_of_etag",
]

log = logging.getLogger("atai_fs")

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


def _crc32c_update_python(crc: int, data: bytes | bytearray | memoryview) -> int:
    table = _TABLE
    crc ^= 0xFFFFFFFF
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


@functools.cache  # once per process
def _warn_slow_once(implementation: str) -> None:
    log.warning(
        "CRC32C is computed in pure Python (%s): uploads whose API asks for CRC32C will "
        "run at about 12 MB/s; reinstall google-crc32c with its compiled wheel",
        implementation,
    )


try:
    import google_crc32c as _crc

    FAST_CRC32C: bool = _crc.implementation == "c"

    def crc32c_update(crc: int, data: bytes | bytearray | memoryview) -> int:
        """Extend a running CRC32C (start from 0) with ``data``."""
        if not FAST_CRC32C:
            _warn_slow_once("google-crc32c has no compiled extension here")
        extended: int = _crc.extend(crc, bytes(data) if isinstance(data, memoryview) else data)
        return extended

except ImportError:  # pragma: no cover - a broken install: the last resort
    FAST_CRC32C = False

    def crc32c_update(crc: int, data: bytes | bytearray | memoryview) -> int:
        """Extend a running CRC32C (start from 0) with ``data``."""
        _warn_slow_once("google-crc32c is not installed")
        return _crc32c_update_python(crc, data)


def _gf2_times(matrix: list[int], vector: int) -> int:
    total = 0
    index = 0
    while vector:
        if vector & 1:
            total ^= matrix[index]
        vector >>= 1
        index += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32c_combine(crc1: int, crc2: int, length2: int) -> int:
    """CRC32C of ``A + B`` from ``crc(A)``, ``crc(B)`` and ``len(B)`` (zlib's method):
    ``crc(A)`` is carried through ``len(B)`` zero bytes by squaring, in GF(2), the
    operator that appends one zero byte, once per bit of the length."""
    operator = [_POLY] + [1 << n for n in range(31)]  # appends one zero bit
    for _ in range(3):
        operator = _gf2_square(operator)  # two, four, eight zero bits: one zero byte
    while length2 > 0:
        if length2 & 1:
            crc1 = _gf2_times(operator, crc1)
        length2 >>= 1
        if length2:
            operator = _gf2_square(operator)
    return crc1 ^ crc2


def crc32c_of_parts(parts: Iterable[tuple[int, int]]) -> int:
    """Whole CRC32C from ``(crc, length)`` of consecutive parts, in file order."""
    total = 0
    for crc, length in parts:
        total = crc32c_combine(total, crc, length)
    return total


def crc32c_base64(crc: int) -> str:
    """The wire form: base64 of the 4-byte big-endian digest (GCS convention)."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


_MD5_ETAG = re.compile(r'"?([0-9a-fA-F]{32})"?')


def md5_of_etag(etag: str) -> str | None:
    """The MD5 hex an ETag carries, or None for opaque ETags (multipart, KMS, ...)."""
    match = _MD5_ETAG.fullmatch(etag.strip())
    return match.group(1).lower() if match else None
