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
