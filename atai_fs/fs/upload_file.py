"""The writable file: buffered writes become part PUTs, close becomes complete.

The file talks only to its :class:`~atai_fs.engine.uploader.Uploader`, which chooses the
route and owns the cleanup.  Two write modes, chosen by whether the total size is known
when the file is opened:

* **Unknown size** (``open(path, "wb")``, what pandas and pyarrow do): the API needs the
  exact size at initiate, so writes go to a spool (memory up to ``spool_threshold``, then
  an unlinked temporary file).  At close the uploader sends it by the route its size
  calls for (one request, or parts concurrently, streamed from the spool).
* **Known size** (``open(path, "wb", size=N)``): the upload is initiated at open; each
  part collects in its own spool while the writer writes and is sent as soon as it is
  full, so parts go out while the writer is still writing.  At most twice the part
  concurrency of the moment (never more than ``max_concurrency``) finished parts wait
  for the network; beyond that ``write`` blocks.  (A size small
  enough for one request is held and sent at close instead.)

Either way a file becomes visible only through a successful complete.  An exception in
a ``with`` block, a file collected without ``close()``, or any failure discards the
upload (fsspec's default ``__exit__``/``__del__`` would publish a half-written file).
Inside an fsspec transaction (``autocommit=False``) everything is sent at close and the
file is published at commit.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import IO, Any, TypeVar

from fsspec.spec import AbstractBufferedFile

from ..engine.sources import Buffer
from ..engine.target import Completion
from ..engine.uploader import Uploader
from .blocking import run_blocking
from .upload_writer import UploadWriter

__all__ = ["CompressedUpload", "UploadFile"]

log = logging.getLogger("atai_fs")

T = TypeVar("T")


class UploadFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A file opened for writing on an upload target (see the module docstring).

    ``fs`` is the filesystem the file belongs to (``None`` for a bare presigned URL);
    ``loop`` the event loop the uploader runs on; ``on_published`` is told the result
    once the file is visible.  The write itself is an
    :class:`~atai_fs.fs.upload_writer.UploadWriter`, whose coroutines run on ``loop``.
    """

    def __init__(
        self,
        fs: Any,
        path: str,
        uploader: Uploader,
        *,
        loop: asyncio.AbstractEventLoop,
        size: int | None = None,
        autocommit: bool = True,
        block_size: int | None = None,
        on_published: Callable[[Completion], None] | None = None,
    ) -> None:
        super().__init__(fs, path, mode="wb", autocommit=autocommit, block_size=block_size)
        self.buffer = None  # writes bypass fsspec's BytesIO buffer (one copy fewer)
        self._uploader = uploader
        self._loop = loop
        self._on_published = on_published
        self._result: Completion | None = None
        try:
            self._writer = UploadWriter(path, uploader, size)
        except BaseException:
            self.closed = True
            raise
        if self._writer.streams:
            try:
                self._run(self._writer.begin())
            except BaseException:
                self.discard()
                raise

    # -- writing ---------------------------------------------------------------------

    def write(self, data: Buffer) -> int:
        """Accept bytes; with a known size, full parts are sent while writing goes on
        (at most twice the part concurrency of the moment waiting for the network;
        beyond that this waits)."""
        if not self.writable():
            raise ValueError("File not in write mode")
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if self.forced:
            raise ValueError("This file has been force-flushed, can only close")
        view = memoryview(data).cast("B")
        try:
            parts = self._writer.accept(view)
            if parts:
                self._run(self._writer.send(parts))
        except BaseException:
            self.discard()
            raise
        self.loc += view.nbytes
        return view.nbytes

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
        try:
            self._run(self._writer.finish())  # a transaction publishes at commit
            if self.autocommit:
                self.commit()
        except BaseException:
            self.discard()
            raise
        finally:
            self.closed = True
            if self.autocommit:
                self._writer.release()  # in a transaction, commit or discard releases

    def commit(self) -> None:
        """Publish the file (called at close, or at the end of an fsspec transaction)."""
        if self._result is None:
            try:
                self._result = self._run(self._writer.publish())
            finally:
                self._writer.release()
        if self._on_published is not None:
            self._on_published(self._result)

    def discard(self) -> None:
        """Abandon the upload: nothing is published, storage is released."""
        try:
            self._run(self._writer.discard())
        finally:
            self._writer.release()
            self.closed = True

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return run_blocking(self._loop, coroutine)

    # -- context manager and garbage collection ------------------------------------------

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.closed:
            return
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def __del__(self) -> None:
        if getattr(self, "closed", True):
            return
        # Collected without close(): abandon, never publish.  No blocking wait here: a
        # finalizer may run on the event loop's own thread.
        log.warning("%s was garbage-collected without close(); aborting its upload", self.path)
        self.closed = True
        writer = self._writer
        try:
            if self._loop.is_running():
                asyncio.run_coroutine_threadsafe(writer.discard(), self._loop)
                return
        except RuntimeError:  # interpreter shutdown: the loop is gone
            pass
        writer.release()

    def __repr__(self) -> str:
        where = self.path if self.fs is None else f"{self.fs.protocol[0]}://{self.path}"
        return f"<UploadFile {where} mode={self.mode!r}>"

    __str__ = __repr__


class CompressedUpload(io.BufferedIOBase):
    """A write through a compressor (``open(..., compression="gzip")``) into an upload.

    fsspec wraps the file in the compressor and returns that; closing the compressor
    never closes the file under it, which here would mean an upload never published.
    This closes both, in order, and an exception in a ``with`` block discards the upload
    like an uncompressed write.
    """

    def __init__(self, compressor: IO[bytes], upload: UploadFile) -> None:
        super().__init__()
        self._compressor = compressor
        self.upload = upload

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:  # type: ignore[override]
        return self._compressor.write(data)

    def flush(self) -> None:
        if not self._compressor.closed:
            self._compressor.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._compressor.close()  # writes its trailer into the upload
        except BaseException:
            self.upload.discard()
            raise
        finally:
            super().close()
        self.upload.close()

    def discard(self) -> None:
        """Abandon the upload (the compressor's pending bytes are dropped)."""
        if not self.closed:
            super().close()
        self.upload.discard()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()

    def __repr__(self) -> str:
        return f"<CompressedUpload {self.upload!r}>"
