"""Sizes the suites share: small parts keep "many parts" tests fast while exercising the
same code paths, and writes are checked around every part boundary."""

from __future__ import annotations

#: The part size the emulators are started with in tests.
PART_SIZE = 64 * 1024

#: Sizes around part boundaries: every write mode is checked at each.
SIZES = {
    "empty": 0,
    "one-byte": 1,
    "part-minus-one": PART_SIZE - 1,
    "one-part": PART_SIZE,
    "part-plus-one": PART_SIZE + 1,
    "eleven-parts-and-change": 11 * PART_SIZE + 123,
}

#: The part size of emulators on S3 storage: S3's smallest part but the last.
S3_PART_SIZE = 5 * 1024 * 1024

#: Sizes around S3 part boundaries.
S3_SIZES = {
    "empty": 0,
    "one-byte": 1,
    "part-minus-one": S3_PART_SIZE - 1,
    "one-part": S3_PART_SIZE,
    "part-plus-one": S3_PART_SIZE + 1,
    "three-parts-and-change": 3 * S3_PART_SIZE + 123,
}
