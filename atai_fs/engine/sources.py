"""Part sources: where the bytes of a part come from.

A source answers ``read(offset, length)`` for absolute offsets in the file being
uploaded.  The uploader reads a part in chunks of a bounded size, so memory never
depends on the server's part size: a 400 MB part read from a local file or from a spool
on disk costs one chunk of memory at a time.  Retrying a part reads the same range again,
so a retry always resends exactly the same bytes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .plan import PartSpec

__all__ = ["BytesSource", "FileSource", "LiveParts", "PartSource", "SpoolSource"]

Buffer = bytes | bytearray | memoryview


@runtime_checkable
class PartSource(Protocol):
    """Random access to the bytes of one upload."""

    @property
    def size(self) -> int:
        """Total number of bytes this source holds."""
        ...

    def read(self, offset: int, length: int) -> Buffer:
        """Return exactly ``length`` bytes starting at absolute ``offset``."""
        ...

    def close(self) -> None:
        """Release memory, file descriptors and temporary files."""
        ...


class BytesSource:
    """A source over bytes already in memory (``pipe_file``): slices, never copies."""

    def __init__(self, data: Buffer) -> None:
        self._view = memoryview(data).cast("B")

    @property
    def size(self) -> int:
        return self._view.nbytes

    def read(self, offset: int, length: int) -> Buffer:
        return self._view[offset : offset + length]

    def close(self) -> None:
        self._view.release()


class FileSource:
    """A local file read with ``os.pread``: no seek state, safe for concurrent parts."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self._size = os.fstat(self._fd).st_size

    @property
    def size(self) -> int:
        return self._size

    def read(self, offset: int, length: int) -> Buffer:
        return _pread_exactly(self._fd, offset, length, self.path)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class SpoolSource:
    """Bytes written sequentially, kept in memory up to a threshold, then on disk.

    Used for writes of unknown total size (the upload can only start once the size is
    known) and for the parts of known-size writes (so a failed part can be resent).
    ``base_offset`` lets a spool that holds one part answer reads in file offsets.
    The temporary file is created unlinked where the OS allows it, so it vanishes even
    if the process is killed.
    """

    def __init__(
        self,
        memory_limit: int,
        *,
        base_offset: int = 0,
        spool_dir: str | None = None,
    ) -> None:
        self.memory_limit = memory_limit
        self.base_offset = base_offset
        self._spool_dir = spool_dir
        self._memory: bytearray | None = bytearray()
        self._file: IO[bytes] | None = None
        self._size = 0
        self._readable = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def on_disk(self) -> bool:
        """Whether the spool outgrew memory and now lives in a temporary file."""
        return self._file is not None

    def write(self, data: Buffer) -> int:
        length = len(data) if not isinstance(data, memoryview) else data.nbytes
        if self._memory is not None and self._size + length <= self.memory_limit:
            self._memory += data
        else:
            if self._file is None:
                self._roll_to_disk()
            assert self._file is not None
            self._file.write(data)
        self._size += length
        self._readable = False
        return length

    def truncate(self) -> None:
        """Forget everything written (a retried download starts over)."""
        self.close()
        self._memory = bytearray()
        self._size = 0

    def _roll_to_disk(self) -> None:
        # The spool outlives this call; close() releases it.
        spill = tempfile.TemporaryFile(prefix="atai-fs-spool-", dir=self._spool_dir)  # noqa: SIM115
        if self._memory:
            spill.write(self._memory)
        self._file = spill
        self._memory = None

    def read(self, offset: int, length: int) -> Buffer:
        start = offset - self.base_offset
        if start < 0 or start + length > self._size:
            raise ValueError(
                f"read of {length} bytes at {offset} outside spool "
                f"[{self.base_offset}, {self.base_offset + self._size})"
            )
        if self._memory is not None:
            return memoryview(self._memory)[start : start + length]
        assert self._file is not None
        if not self._readable:
            self._file.flush()
            self._readable = True
        return _pread_exactly(self._file.fileno(), start, length, "spool")

    def close(self) -> None:
        self._memory = None
        if self._file is not None:
            self._file.close()
            self._file = None


class LiveParts:
    """The bytes of a write of known size, held part by part while the writer writes.

    The server's plan is known before the first byte: each part collects in its own
    :class:`SpoolSource` and is handed out as soon as it is full, so parts go out while
    the writer is still writing and a failed part can be resent from its spool.  Each
    spool keeps at most ``memory_per_part`` in memory and spills to disk beyond it, so
    memory does not grow with the server's part size.

    Whoever needs the bytes in order as they are written (a whole-content digest) can
    :meth:`observe` them; nobody can read the whole file back.
    """

    def __init__(
        self,
        parts: Sequence[PartSpec],
        *,
        size: int,
        memory_per_part: int,
        spool_dir: str | None = None,
    ) -> None:
        self.size = size
        self._pending = sorted(parts, key=lambda part: part.offset)
        self._memory_per_part = memory_per_part
        self._spool_dir = spool_dir
        self._observers: list[Callable[[Buffer], None]] = []
        self._current: SpoolSource | None = None
        self._start_next()

    def observe(self, observer: Callable[[Buffer], None]) -> None:
        """Call ``observer`` with every chunk written from now on, in file order."""
        self._observers.append(observer)

    def write(self, view: memoryview) -> list[tuple[PartSpec, SpoolSource]]:
        """Take written bytes; return the parts they filled, each with its spool (which
        the caller sends, then closes)."""
        for observer in self._observers:
            observer(view)
        full: list[tuple[PartSpec, SpoolSource]] = []
        while True:
            full.extend(self._take_full())
            if not view.nbytes or self._current is None:
                break
            room = self._pending[0].length - self._current.size
            self._current.write(view[:room])
            view = view[room:]
        return full

    def full_parts(self) -> list[tuple[PartSpec, SpoolSource]]:
        """Parts complete without further bytes (zero-length ones, or the last)."""
        return self._take_full()

    def _take_full(self) -> list[tuple[PartSpec, SpoolSource]]:
        full = []
        while self._pending and self._current is not None:
            part = self._pending[0]
            if self._current.size < part.length:
                break
            full.append((self._pending.pop(0), self._current))
            self._start_next()
        return full

    def _start_next(self) -> None:
        self._current = None
        if self._pending:
            self._current = SpoolSource(
                self._memory_per_part,
                base_offset=self._pending[0].offset,
                spool_dir=self._spool_dir,
            )

    def close(self) -> None:
        """Release the part being filled (parts handed out are their sender's)."""
        if self._current is not None:
            self._current.close()
            self._current = None
        self._pending = []


def _pread_exactly(fd: int, offset: int, length: int, name: str) -> bytes:
    data = os.pread(fd, length, offset)
    if len(data) == length:
        return data
    pieces = [data]
    got = len(data)
    while got < length:
        more = os.pread(fd, length - got, offset + got)
        if not more:
            raise OSError(
                f"{name} ended at byte {offset + got} while {length - got} more bytes were "
                "expected; was it truncated during the upload?"
            )
        pieces.append(more)
        got += len(more)
    return b"".join(pieces)
