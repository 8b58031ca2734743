"""Streaming a part's bytes into an HTTP request with an exact ``Content-Length``.

Storage services reject chunked transfer encoding on presigned PUTs, and holding a
whole part (up to hundreds of MB) in memory is not an option, so a part is written to
the socket chunk by chunk from its :class:`~atai_fs.engine.sources.PartSource` while the
request announces its full length up front.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from aiohttp import payload
from aiohttp.abc import AbstractStreamWriter

from .sources import Buffer, PartSource

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "IN_FLIGHT_MEMORY",
    "OFFLOAD_MIN_CHUNK",
    "PartBody",
    "chunk_size_for",
    "hashing_off_loop_pays",
]

#: Bytes read from a source and handed to the socket at a time.  1 MiB keeps per-chunk
#: Python overhead negligible at GB/s while bounding memory to a few MiB per connection.
DEFAULT_CHUNK_SIZE = 1 << 20

#: What all the parts in flight of a filesystem hold in chunks between them: each PUT
#: holds about one chunk (the socket's buffers take the rest), so chunks shrink as the
#: concurrency grows, and memory does not grow with it.
IN_FLIGHT_MEMORY = 16 << 20
_SMALLEST_CHUNK = 64 << 10


def chunk_size_for(parts_in_flight: int, largest: int = DEFAULT_CHUNK_SIZE) -> int:
    """The chunk size when ``parts_in_flight`` PUTs may run at once: at most
    ``largest``, at most their share of :data:`IN_FLIGHT_MEMORY`, at least 64 KiB (below
    that, per-chunk overhead would show)."""
    share = IN_FLIGHT_MEMORY // max(1, parts_in_flight)
    return min(largest, max(_SMALLEST_CHUNK, share))


#: Chunks at least this big are checksummed in a worker thread when hashing runs off the
#: loop (hashlib and google-crc32c release the GIL on them); smaller ones cost less
#: inline than a thread hop.
OFFLOAD_MIN_CHUNK = 256 << 10


def hashing_off_loop_pays() -> bool:
    """Whether checksums should run beside the event loop by default: with 4 cores or
    more.  On fewer, the hash thread competes with the loop (and, on a test machine,
    with the server) for the same cores: measured on 2 cores, a 1 GiB put_file took
    7.5-8.6 s with it against 4.7-6.7 s inline."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores >= 4


class PartBody(payload.Payload):
    """An aiohttp payload that streams ``[offset, offset + length)`` of a source.

    ``on_chunk`` (optional) sees every byte of the part once, in order, as it is sent,
    for checksums computed on the bytes actually put on the wire.  aiohttp writes a body
    again when a reused connection drops under it (PUT is idempotent); the same bytes are
    then not seen twice, or an MD5 or CRC32C would be of the part sent twice.
    ``on_sent`` (optional) is told how many bytes of the
    part this write has handed to the connection, after each chunk, for progress (a
    body written again starts again from 0).

    With ``observe_in_thread``, ``on_chunk`` runs in a worker thread for chunks of at
    least :data:`OFFLOAD_MIN_CHUNK` while the chunk is being written, so hashing never
    caps a fast link at what the loop's one core can hash: the loop only moves bytes.
    One chunk is checksummed at a time, in order (``on_chunk`` needs no lock), and the
    last one is done before the body counts as written.
    """

    _autoclose = True

    def __init__(
        self,
        source: PartSource,
        offset: int,
        length: int,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        content_type: str = "application/octet-stream",
        on_chunk: Callable[[Buffer], None] | None = None,
        on_sent: Callable[[int], None] | None = None,
        observe_in_thread: bool = False,
    ) -> None:
        super().__init__(source, content_type=content_type)
        self._source = source
        self._offset = offset
        self._length = length
        self._size = length  # what aiohttp announces as Content-Length
        self._chunk_size = chunk_size
        self._on_chunk = on_chunk
        self._on_sent = on_sent
        self._in_thread = observe_in_thread
        self._observing: asyncio.Future[None] | None = None  # a chunk in a worker thread
        self._observed = 0  # bytes of the part on_chunk has seen, over every write

    @property
    def source(self) -> PartSource:
        return self._source

    @property
    def offset(self) -> int:
        """Where the part starts in its source (absolute file offset)."""
        return self._offset

    @property
    def length(self) -> int:
        return self._length

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a part body is binary and streamed; it has no text form")

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        remaining = self._length if content_length is None else min(self._length, content_length)
        position = self._offset
        await self._observed_so_far()  # a write abandoned before this one
        while remaining > 0:
            take = min(self._chunk_size, remaining)
            chunk = self._source.read(position, take)
            if self._on_chunk is not None:
                await self._observed_so_far()  # in order: the previous chunk first
                start = position - self._offset
                if self._in_thread and take >= OFFLOAD_MIN_CHUNK:
                    loop = asyncio.get_running_loop()
                    self._observing = loop.run_in_executor(None, self._observe, chunk, start)
                else:
                    self._observe(chunk, start)
            await writer.write(chunk)
            position += take
            if self._on_sent is not None:
                self._on_sent(position - self._offset)
            remaining -= take
        await self._observed_so_far()

    async def _observed_so_far(self) -> None:
        """Wait for the chunk being checksummed in a worker thread, if any (shielded: a
        cancelled write leaves it to finish, and the next write waits for it)."""
        observing, self._observing = self._observing, None
        if observing is not None:
            try:
                await asyncio.shield(observing)
            except asyncio.CancelledError:
                self._observing = observing
                raise

    def _observe(self, chunk: Buffer, start: int) -> None:
        """Hand ``on_chunk`` the bytes of ``chunk`` (at ``start`` in the part) that no
        earlier write of this body showed it."""
        end = start + len(chunk)
        if end <= self._observed or self._on_chunk is None:
            return
        skip = self._observed - start
        self._on_chunk(memoryview(chunk)[skip:] if skip > 0 else chunk)
        self._observed = end
