"""Files for async code: ``await fs.open_async(path, "wb")`` and ``"rb"``.

An async web service streams a request body into a file without a thread per request:
each ``await f.write(chunk)`` returns as soon as the bytes are buffered, or once a full
part has a slot to go out.  The write is the same :class:`~atai_fs.fs.upload_writer.UploadWriter`
as the blocking file's, with the same two modes (a known ``size=`` streams parts while
writing; an unknown size spools and uploads at close) and the same promise: the file is
published by a successful ``close()`` only.  An exception in ``async with``, a failed
part, a wrong size, or a file collected unclosed aborts the upload.

The read side is a plain ranged read per ``read()`` call (no read-ahead cache).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from fsspec.asyn import AbstractAsyncStreamedFile

from ..engine.sources import Buffer
from ..engine.target import Completion
from ..engine.uploader import Uploader
from .upload_writer import UploadWriter

__all__ = ["AsyncReadFile", "AsyncUploadFile"]

log = logging.getLogger("atai_fs")


class AsyncUploadFile:
    """A file being uploaded from async code (see the module docstring); made by
    :meth:`open`, on the event loop that drives it."""

    def __init__(
        self,
        path: str,
        writer: UploadWriter,
        *,
        on_published: Callable[[Completion], None] | None = None,
    ) -> None:
        self.path = path
        self._writer = writer
        self._on_published = on_published
        self._loop = asyncio.get_running_loop()
        self.closed = False
        self.result: Completion | None = None

    @classmethod
    async def open(
        cls,
        path: str,
        uploader: Uploader,
        *,
        size: int | None = None,
        on_published: Callable[[Completion], None] | None = None,
    ) -> AsyncUploadFile:
        """A file writing ``path`` through ``uploader``; a known ``size`` initiates the
        upload now, so parts go out while the caller writes."""
        file = cls(path, UploadWriter(path, uploader, size), on_published=on_published)
        if file._writer.streams:
            try:
                await file._writer.begin()
            except BaseException:
                await file.discard()
                raise
        return file

    async def write(self, data: Buffer) -> int:
        """Take bytes; full parts of a known-size write are sent meanwhile (at most
        ``max_concurrency`` waiting for the network; beyond that this waits)."""
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        view = memoryview(data).cast("B")
        try:
            parts = self._writer.accept(view)
            if parts:
                await self._writer.send(parts)
        except BaseException:
            await self.discard()
            raise
        return view.nbytes

    def tell(self) -> int:
        """Bytes written so far."""
        return self._writer.written

    async def close(self) -> None:
        """Finish the upload; the file is published only if every step succeeds."""
        if self.closed:
            return
        try:
            await self._writer.finish()
            self.result = await self._writer.publish()
        except BaseException:
            await self.discard()
            raise
        finally:
            self.closed = True
            self._writer.release()
        if self._on_published is not None:
            self._on_published(self.result)

    async def discard(self) -> None:
        """Abandon the upload: nothing is published, storage is released."""
        self.closed = True
        await self._writer.discard()

    async def __aenter__(self) -> AsyncUploadFile:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.closed:
            return
        if exc_type is not None:
            await self.discard()
        else:
            await self.close()

    def __del__(self) -> None:
        if getattr(self, "closed", True):
            return
        # Collected without close(): abandon, never publish (no waiting in a finalizer).
        log.warning("%s was garbage-collected without close(); aborting its upload", self.path)
        self.closed = True
        try:
            if not self._loop.is_closed():
                asyncio.run_coroutine_threadsafe(self._writer.discard(), self._loop)
                return
        except RuntimeError:  # interpreter shutdown: the loop is gone
            pass
        self._writer.release()

    def __repr__(self) -> str:
        return f"<AsyncUploadFile {self.path} mode='wb'>"


class AsyncReadFile(AbstractAsyncStreamedFile):  # type: ignore[misc]  # fsspec is untyped
    """A file opened with ``await fs.open_async(path, "rb")``: each ``await read(n)``
    is one ranged request through the filesystem's ``_cat_file``."""

    def __init__(self, fs: Any, path: str, size: int) -> None:
        super().__init__(fs, path, mode="rb", size=size, cache_type="none")

    async def _fetch_range(self, start: int, end: int) -> bytes:
        data: bytes = await self.fs._cat_file(self.path, start=start, end=end)
        return data

    def __del__(self) -> None:
        """Nothing to release (no cache, no connection held between reads); fsspec's
        finalizer would call the async ``close`` without awaiting it."""

    def __repr__(self) -> str:
        return f"<AsyncReadFile {self.fs.protocol[0]}://{self.path} size={self.size}>"
