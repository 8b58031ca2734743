"""What the bytes of a file are, declared to an API as a MIME type.

A type is declared for the bytes sent, not for what they decompress to: ``x.csv.gz``
holds gzip, not CSV, and so does ``x.csv`` written through fsspec's ``compression=
"gzip"`` wrapper or by ``df.to_csv(..., compression="gzip")``.  Since a wrapper is not
always visible to the filesystem (``fsspec.open`` applies it outside), the first bytes
of a whole upload are looked at too: a compression's magic number at the start of
what the name says is text cannot be text.  Declaring ``text/csv`` would send gzip
bytes down a route that takes plain CSV only (the Files API's one-request upload) and
mislabel the stored file.
"""

from __future__ import annotations

import mimetypes
import re

__all__ = ["compressed_type", "content_type", "declared_type", "sniff_compression"]

#: fsspec's compression names and mimetypes' encodings -> the MIME type of their bytes.
_COMPRESSIONS = {
    "gzip": "application/gzip",
    "bz2": "application/x-bzip2",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "lzma": "application/x-lzma",
    "zstd": "application/zstd",
    "zip": "application/zip",
    "lz4": "application/x-lz4",
    "snappy": "application/x-snappy-framed",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}

#: Name endings of compressed files mimetypes does not know.
_COMPRESSED_SUFFIXES = {".zst": "zstd", ".zstd": "zstd", ".lz4": "lz4", ".sz": "snappy"}

#: Types data tools write that mimetypes does not know (or knows otherwise).
_DATA_TYPES = {
    ".parquet": "application/x-parquet",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".csv": "text/csv",
    ".json": "application/json",
    ".txt": "text/plain",
    ".arrow": "application/vnd.apache.arrow.file",
    ".feather": "application/vnd.apache.arrow.file",
}


def compressed_type(compression: str) -> str:
    """The MIME type of bytes compressed with ``compression`` (an fsspec name)."""
    return _COMPRESSIONS.get(compression.lower(), "application/octet-stream")


def content_type(name: str, *, compression: str | None = None) -> str | None:
    """The MIME type of the bytes of a file named ``name`` (``None`` when unknown).

    ``compression`` is a wrapper's (fsspec's ``compression=``): the bytes are then of
    that kind whatever the name says.  A compressed name (``.gz``, ``.bz2``, ``.xz``,
    ``.zst``...) is its compression's type, never the type of what it holds.
    """
    if compression:
        return compressed_type(compression)
    lowered = name.lower()
    for suffix, kind in _COMPRESSED_SUFFIXES.items():
        if lowered.endswith(suffix):
            return compressed_type(kind)
    guessed, encoding = mimetypes.guess_type(lowered, strict=False)
    if encoding:
        return compressed_type(encoding)
    for suffix, mime in _DATA_TYPES.items():
        if lowered.endswith(suffix):
            return mime
    return guessed


#: Magic numbers at the start of compressed data.  Each is impossible as the start of
#: text (binary bytes, or bzip2's "BZh" + level + block magic).
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\xff\x06\x00\x00sNaPpY", "snappy"),
)
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")

#: Kinds of content a compressed file can be mistaken for: what names guess as text.
_TEXTUAL = ("text/", "application/json", "application/x-ndjson", "application/xml")

#: How many leading bytes :func:`sniff_compression` needs.
SNIFF_BYTES = 16


def sniff_compression(head: bytes) -> str | None:
    """The compression whose magic number ``head`` starts with, if any."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return "bzip2" if _BZIP2.match(head) else None


def declared_type(guessed: str | None, head: bytes) -> str | None:
    """The type to declare for content starting with ``head`` whose name suggested
    ``guessed``: a compression's type where the name promised text (or nothing)."""
    textual = guessed in (None, "application/octet-stream") or (
        guessed is not None and guessed.startswith(_TEXTUAL)
    )
    found = sniff_compression(head) if textual else None
    return compressed_type(found) if found else guessed
