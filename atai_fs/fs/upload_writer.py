"""One write into an upload, whoever drives it: the blocking file or the async one.

:class:`UploadWriter` holds what a write is made of: the bytes written so far, where
they wait (a spool for a write of unknown size, the live part buffers of one of known
size), and the parts in flight.  Its coroutines run on the event loop of its
:class:`~atai_fs.engine.uploader.Uploader`; :meth:`UploadWriter.accept` (taking bytes)
runs in the writer's own thread, and never blocks on the network.  The blocking
:class:`~atai_fs.fs.upload_file.UploadFile` runs the coroutines on the filesystem's loop;
:class:`~atai_fs.fs.async_file.AsyncUploadFile` awaits them: one write path for both.

Deciding that a failure discards the upload is the files' job (an exception in a
``with`` block, a part that failed, a wrong size); the writer only does what it is told.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..engine.plan import PartSpec
from ..engine.sources import LiveParts, SpoolSource
from ..engine.target import Completion
from ..engine.uploader import Uploader
from ..errors import InvalidRequest, UploadFailed

__all__ = ["UploadWriter"]


class UploadWriter:
    """The bytes, buffers and parts in flight of one write of ``path`` (see the module
    docstring).  ``size`` is the announced total, or ``None`` to find it at close."""

    def __init__(self, path: str, uploader: Uploader, size: int | None) -> None:
        if size is not None and size < 0:
            raise InvalidRequest(f"size must not be negative, got {size}")
        self.path = path
        self.uploader = uploader
        self.expected_size = size
        self.written = 0
        #: Every byte is with the server (or staged): only publishing is left.
        self.sent = False
        self._spool: SpoolSource | None = None
        self._live: LiveParts | None = None
        #: Parts sent and not yet waited for, with their spools (closed by their sender,
        #: or at release for a part cancelled before its send began).
        self._in_flight: deque[tuple[asyncio.Future[None], SpoolSource]] = deque()
        if size is None or not uploader.streams(size):
            config = uploader.config
            self._spool = SpoolSource(config.spool_threshold, spool_dir=config.spool_dir)

    @property
    def streams(self) -> bool:
        """Whether parts go out while writing (a known size too large for one request);
        such a write starts with :meth:`begin`."""
        return self._spool is None

    async def begin(self) -> None:
        """Initiate a streamed write: the upload exists from now on."""
        assert self.expected_size is not None
        self._live = await self.uploader.begin(self.expected_size)
        await self.send(self._live.full_parts())

    def accept(self, view: memoryview) -> list[tuple[PartSpec, SpoolSource]]:
        """Take ``view``'s bytes; returns the parts they filled, for :meth:`send`."""
        length = view.nbytes
        if self.expected_size is not None and self.written + length > self.expected_size:
            raise InvalidRequest(
                f"{self.path}: writing {self.written + length} bytes into a file opened with "
                f"size={self.expected_size}; the upload was aborted. Pass the exact size, "
                "or open without size= to let the size be found at close"
            )
        parts: list[tuple[PartSpec, SpoolSource]] = []
        if self._spool is not None:
            self._spool.write(view)
        elif self._live is not None:
            parts = self._live.write(view)
        self.written += length
        return parts

    async def send(self, parts: list[tuple[PartSpec, SpoolSource]]) -> None:
        """Send full parts, at most :meth:`Uploader.parts_to_hold` in flight (else wait
        for the oldest); the first part that failed is raised."""
        pending = deque(parts)
        try:
            while pending:
                self._raise_if_a_part_failed()
                while len(self._in_flight) >= self.uploader.parts_to_hold():
                    await self._wait_oldest()
                part, spool = pending.popleft()
                task = asyncio.ensure_future(self._send(part, spool))
                task.add_done_callback(_seen)
                self._in_flight.append((task, spool))
        finally:
            for _, spool in pending:  # never sent: the upload failed meanwhile
                spool.close()

    async def _send(self, part: PartSpec, spool: SpoolSource) -> None:
        try:
            await self.uploader.send_part(part, spool)
        finally:
            spool.close()  # its memory is free for the parts still to come

    async def _wait_oldest(self) -> None:
        task, _ = self._in_flight.popleft()
        await task

    def _raise_if_a_part_failed(self) -> None:
        for task, _ in self._in_flight:
            if task.done() and not task.cancelled():
                error = task.exception()
                if error is not None:
                    raise error

    async def finish(self) -> None:
        """Everything short of publishing (an fsspec transaction publishes at commit):
        the spool staged, or every part sent; a write of the wrong size is refused."""
        if self.sent:
            return
        if self.expected_size is not None and self.written != self.expected_size:
            raise InvalidRequest(
                f"{self.path}: only {self.written} of the {self.expected_size} bytes "
                "announced with size= were written; the upload was aborted"
            )
        if self._spool is not None:
            await self.uploader.stage(self._spool)
        else:
            while self._in_flight:
                await self._wait_oldest()
        self.sent = True

    async def publish(self) -> Completion:
        """Make the file visible, once :meth:`finish` sent everything."""
        if not self.sent:
            raise UploadFailed(f"{self.path}: cannot commit before every part was sent")
        return await self.uploader.publish()

    async def discard(self) -> None:
        """Abandon the upload: parts in flight are cancelled, nothing is published, the
        storage and the buffers are released.  Never raises."""
        for task, _ in self._in_flight:
            task.cancel()
        try:
            await self.uploader.discard()
        finally:
            self.release()

    def release(self) -> None:
        """Free the buffers (memory, temporary files) of a write that ended."""
        for _, spool in self._in_flight:
            spool.close()
        self._in_flight.clear()
        for holder in (self._spool, self._live):
            if holder is not None:
                holder.close()
        self._spool = self._live = None


def _seen(task: asyncio.Future[None]) -> None:
    """Mark a part's failure as retrieved: the first one is raised by the writer, the
    rest are consequences of it (asyncio would log each as never retrieved)."""
    if not task.cancelled():
        task.exception()
