"""The SHA-256 digests a sandbox session wants, computed in one place.

Each part's header carries the SHA-256 of its bytes, so a part's digest must be known
before its body is sent; ``complete`` carries the SHA-256 of the whole content, which
(unlike CRC32C) cannot be combined from per-part values and needs the bytes in order.
:class:`ContentDigest` takes the content once, sequentially, and yields both: from a
source read in ``chunk_size`` pieces (:meth:`ContentDigest.of_source`, bounded memory;
the send then re-reads each part, usually from the page cache), or from the bytes of a
write as they are written (:meth:`ContentDigest.update`).
"""

from __future__ import annotations

import hashlib

from ...engine.body import DEFAULT_CHUNK_SIZE
from ...engine.sources import Buffer, PartSource

__all__ = ["ContentDigest"]


class ContentDigest:
    """The whole content's SHA-256 and each part's, for ``size`` bytes cut in parts of
    ``part_size`` numbered from 0 (as the sandbox API numbers them)."""

    def __init__(self, part_size: int, size: int, *, whole: bool = True) -> None:
        self.part_size = part_size
        self.size = size
        self._whole = hashlib.sha256() if whole else None
        self._parts: dict[int, str] = {}
        self._current = hashlib.sha256()
        self._number = 0
        self._position = 0  # bytes seen so far

    @classmethod
    def of_source(
        cls,
        source: PartSource,
        part_size: int,
        *,
        whole: bool = True,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> ContentDigest:
        """Digests of every byte of ``source`` (blocking: run it in a thread)."""
        digest = cls(part_size, source.size, whole=whole)
        position = 0
        while position < source.size:
            take = min(chunk_size, source.size - position)
            digest.update(source.read(position, take))
            position += take
        return digest

    @classmethod
    def of_range(
        cls, source: PartSource, offset: int, length: int, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> str:
        """The digest of one range of ``source`` (blocking: run it in a thread)."""
        digest = cls(length, length, whole=False)
        position = offset
        while position < offset + length:
            take = min(chunk_size, offset + length - position)
            digest.update(source.read(position, take))
            position += take
        return digest.part(0) or digest._current.hexdigest()

    def update(self, chunk: Buffer) -> None:
        """The next bytes of the content, in order."""
        view = memoryview(chunk).cast("B")
        if self._whole is not None:
            self._whole.update(view)
        while view.nbytes:
            take = self._part_end() - self._position
            if take <= 0:
                raise ValueError(f"more than the content's {self.size} bytes were given")
            piece, view = view[:take], view[take:]
            self._current.update(piece)
            self._position += piece.nbytes
            if self._position == self._part_end():
                self._parts[self._number] = self._current.hexdigest()
                self._number += 1
                self._current = hashlib.sha256()

    def _part_end(self) -> int:
        return min((self._number + 1) * self.part_size, self.size)

    def part(self, number: int) -> str | None:
        """Part ``number``'s digest once all of its bytes were seen."""
        return self._parts.get(number)

    def parts(self) -> list[str]:
        """The digests of the parts seen whole so far, in order."""
        return [self._parts[n] for n in range(len(self._parts))]

    @property
    def whole(self) -> str | None:
        """The whole content's digest once every byte was seen (``None`` before, or when
        it was not asked for)."""
        if self._whole is None or self._position < self.size:
            return None
        return self._whole.hexdigest()
