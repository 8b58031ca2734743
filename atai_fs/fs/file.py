"""The writable file: buffered writes become part PUTs, close becomes complete.

Two write modes, chosen by whether the total size is known when the file is opened:

* **Unknown size** (``open(path, "wb")``, what pandas and pyarrow do): the API needs the
  exact size at initiate, so writes go to a spool (memory up to ``spool_threshold``, then
  an unlinked temporary file).  At close the upload is initiated with the exact size and
  the parts are sent concurrently, streamed from the spool.
* **Known size** (``open(path, "wb", size=N)``): the upload is initiated at open; each
  part is collected in its own spool while the writer writes and is sent as soon as it
  is full, so parts go out while the writer is still writing.  At most
  ``max_concurrency`` finished parts wait for the network; beyond that ``write`` blocks.
  The parts held share one ``spool_threshold`` of memory and spill to disk beyond it,
  so memory does not grow with the server's part size.

Either way a file becomes visible only through a successful complete.  An exception in
a ``with`` block, a file collected without ``close()``, or any failure aborts the upload
(fsspec's default ``__exit__``/``__del__`` would publish a half-written file).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from fsspec.asyn import sync
from fsspec.spec import AbstractBufferedFile

from ..engine.plan import PartSpec
from ..engine.sources import Buffer, SpoolSource
from ..engine.uploader import Uploader
from ..errors import InvalidRequest, UploadFailed

if TYPE_CHECKING:
    from .base import UploadFileSystem

__all__ = ["UploadFile"]

log = logging.getLogger("atai_fs")


class UploadFile(AbstractBufferedFile):
    """A file opened for writing on an upload filesystem (see the module docstring)."""

    def __init__(
        self,
        fs: UploadFileSystem,
        path: str,
        uploader: Uploader,
        *,
        mode: str = "wb",
        size: int | None = None,
        autocommit: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(fs, path, mode=mode, autocommit=autocommit, **kwargs)
        self.buffer = None  # writes bypass fsspec's BytesIO buffer (one copy fewer)
        self._uploader = uploader
        self._config = uploader.config
        self._loop: asyncio.AbstractEventLoop = fs.loop
        self._expected_size = size
        self._written = 0
        self._result: Any = None
        self._parts_sent = False
        self._spool: SpoolSource | None = None
        self._parts: deque[PartSpec] = deque()
        self._part_spool: SpoolSource | None = None
        self._in_flight: deque[concurrent.futures.Future[None]] = deque()
        if size is None:
            self._spool = self._new_spool(0)
        else:
            if size < 0:
                raise InvalidRequest(f"size must not be negative, got {size}")
            try:
                plan = self._run(uploader.start(size))
            except BaseException:
                self.closed = True
                raise
            self._parts = deque(sorted(plan.parts, key=lambda part: part.offset))
            self._start_next_part()

    # -- writing ---------------------------------------------------------------------

    def write(self, data: Buffer) -> int:
        """Accept bytes; with a known size, full parts are sent while writing goes on."""
        if not self.writable():
            raise ValueError("File not in write mode")
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if self.forced:
            raise ValueError("This file has been force-flushed, can only close")
        view = memoryview(data).cast("B")
        length = view.nbytes
        if self._expected_size is not None and self._written + length > self._expected_size:
            self.discard()
            raise InvalidRequest(
                f"{self.path}: writing {self._written + length} bytes into a file opened with "
                f"size={self._expected_size}; the upload was aborted. Pass the exact size, "
                "or open without size= to let the size be found at close"
            )
        if self._spool is not None:
            self._spool.write(view)
        else:
            self._write_parts(view)
        self._written += length
        self.loc += length
        return length

    def _write_parts(self, view: memoryview) -> None:
        while view.nbytes:
            part, spool = self._parts[0], self._part_spool
            assert spool is not None
            room = part.length - spool.size
            spool.write(view[:room])
            view = view[room:]
            self._send_full_parts()

    def _new_spool(self, base_offset: int) -> SpoolSource:
        # Known-size writes hold up to max_concurrency + 1 parts at once; they share one
        # spool_threshold of memory so the total stays bounded whatever the part size.
        memory = self._config.spool_threshold
        if self._expected_size is not None:
            memory //= self._config.max_concurrency + 1
        return SpoolSource(memory, base_offset=base_offset, spool_dir=self._config.spool_dir)

    def _start_next_part(self) -> None:
        self._part_spool = self._new_spool(self._parts[0].offset) if self._parts else None
        self._send_full_parts()

    def _send_full_parts(self) -> None:
        while self._parts and self._part_spool is not None:
            part, spool = self._parts[0], self._part_spool
            if spool.size < part.length:
                return
            self._parts.popleft()
            self._submit(part, spool)
            self._part_spool = self._new_spool(self._parts[0].offset) if self._parts else None

    def _submit(self, part: PartSpec, spool: SpoolSource) -> None:
        self._raise_if_a_part_failed()
        while len(self._in_flight) >= self._config.max_concurrency:
            self._wait_oldest()
        future = asyncio.run_coroutine_threadsafe(self._send(part, spool), self._loop)
        self._in_flight.append(future)

    async def _send(self, part: PartSpec, spool: SpoolSource) -> None:
        try:
            await self._uploader.send_part(part, spool)
        finally:
            spool.close()

    def _wait_oldest(self) -> None:
        future = self._in_flight.popleft()
        try:
            future.result()
        except BaseException:
            self.discard()
            raise

    def _raise_if_a_part_failed(self) -> None:
        for future in self._in_flight:
            if future.done() and not future.cancelled() and future.exception() is not None:
                self._in_flight.remove(future)
                self.discard()
                raise future.exception()  # type: ignore[misc]

    def flush(self, force: bool = False) -> None:
        """Nothing to push early: data streams out as parts fill, or at close."""
        if self.closed:
            raise ValueError("Flush on closed file")
        if force:
            self.forced = True

    # -- finishing -------------------------------------------------------------------

    def close(self) -> None:
        """Finish the upload; the file is published only if every step succeeds."""
        if self.closed:
            return
        if self.mode == "rb":  # pragma: no cover - read files are another class
            super().close()
            return
        try:
            self._send_everything()
            if self.autocommit:
                self.commit()
        except BaseException:
            self.discard()
            raise
        finally:
            self._release()
            self.closed = True

    def _send_everything(self) -> None:
        if self._parts_sent:
            return
        if self._spool is not None:
            self._result = self._run(self._upload_spool(self._spool))
        else:
            if self._written != self._expected_size:
                raise InvalidRequest(
                    f"{self.path}: only {self._written} of the {self._expected_size} bytes "
                    "announced with size= were written; the upload was aborted"
                )
            self._send_full_parts()
            while self._in_flight:
                self._wait_oldest()
        self._parts_sent = True

    async def _upload_spool(self, spool: SpoolSource) -> Any:
        if not self.autocommit:  # a transaction publishes at commit: parts now, complete later
            await self._uploader.start(spool.size)
            await self._uploader.send_all(spool)
            return None
        return await self.fs._upload_whole(self._uploader, spool)

    def commit(self) -> None:
        """Publish the file (called at close, or at the end of an fsspec transaction)."""
        if self._result is None:
            if not self._parts_sent:
                raise UploadFailed(f"{self.path}: cannot commit before every part was sent")
            self._result = self._run(self._uploader.finish())
        self.fs.invalidate_cache(self.path)

    def discard(self) -> None:
        """Abort the upload: nothing is published, storage is released."""
        for future in self._in_flight:
            future.cancel()
        self._in_flight.clear()
        try:
            self._run(self._uploader.abort())
        finally:
            self._release()
            self.closed = True

    def _release(self) -> None:
        for spool in (self._spool, self._part_spool):
            if spool is not None:
                spool.close()
        self._spool = self._part_spool = None

    def _run(self, coroutine: Any) -> Any:
        return sync(self._loop, lambda: coroutine)

    # -- context manager and garbage collection ------------------------------------------

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.closed:
            return
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def __del__(self) -> None:
        if getattr(self, "closed", True) or self.mode == "rb":
            return
        # Collected without close(): abandon, never publish.  No blocking wait here: a
        # finalizer may run on the event loop's own thread.
        log.warning("%s was garbage-collected without close(); aborting its upload", self.path)
        for future in getattr(self, "_in_flight", ()):
            future.cancel()
        self._release()
        self.closed = True
        try:
            if self._loop.is_running():
                asyncio.run_coroutine_threadsafe(self._uploader.abort(), self._loop)
        except RuntimeError:  # interpreter shutdown: the loop is gone
            pass

    def __repr__(self) -> str:
        return f"<UploadFile {self.fs.protocol[0]}://{self.path} mode={self.mode!r}>"

    __str__ = __repr__
