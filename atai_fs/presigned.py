"""Upload to any presigned PUT URL, with the engine's streaming, retries and checks.

A presigned PUT URL (S3, GCS, MinIO, R2, or one handed out by an API such as the flow
engine's ``WaitingURLs``) carries its own authority and takes one whole object in one
request.  This module sends one through the same machinery as every other target:
exact ``Content-Length``, never an ``Authorization`` header, the body streamed from disk
or memory in chunks, transient failures (connection resets, timeouts, 408/429/5xx)
retried with the shared :class:`~atai_fs.engine.retry.RetryPolicy` resending exactly
the same bytes, and the storage's MD5 ``ETag`` compared with the bytes sent::

    from atai_fs import presigned

    etag = presigned.put(url, "frame.jpg", content_type="image/jpeg")
    etag = presigned.put(url, b"raw bytes")
    with presigned.open_presigned(url) as f:      # unknown size: spooled, PUT at close
        df.to_parquet(f)

An object is sent only whole: a writer that raises inside its ``with`` block, or is
garbage-collected unclosed, sends nothing.  Objects over 5 GiB (S3's single-PUT limit)
are refused before any request.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Callable, Coroutine, Mapping
from typing import IO, Any, ParamSpec, TypeVar, Union

from fsspec.asyn import get_loop, sync
from fsspec.callbacks import Callback

from .engine.body import DEFAULT_CHUNK_SIZE
from .engine.concurrency import PartConcurrency
from .engine.config import TransferConfig, coerce
from .engine.integrity import EtagMode
from .engine.retry import RetryPolicy
from .engine.sources import BytesSource, FileSource, PartSource, SpoolSource
from .engine.uploader import Uploader
from .errors import InvalidRequest, PresignedUrlRefused
from .fs.upload_file import UploadFile
from .http import HttpClient, Timeouts
from .targets.presigned import MAX_SINGLE_PUT_SIZE, PresignedPutTarget

__all__ = [
    "MAX_SINGLE_PUT_SIZE",
    "PresignedPutTarget",
    "PresignedUrlRefused",
    "open_presigned",
    "put",
    "put_async",
]

P = ParamSpec("P")
R = TypeVar("R")

Data = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes]]


def _source_of(data: Data, *, spool_threshold: int) -> PartSource:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return BytesSource(data)
    if isinstance(data, (str, os.PathLike)):
        return FileSource(data)
    if hasattr(data, "read"):
        spool = SpoolSource(spool_threshold)
        try:
            while chunk := data.read(DEFAULT_CHUNK_SIZE):
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        return spool
    raise InvalidRequest(
        f"cannot upload a {type(data).__name__}: pass bytes, a local path, or a binary file"
    )


def _uploader(
    url: str,
    *,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    retry: RetryPolicy | Mapping[str, Any] | str | None,
    timeouts: Timeouts | Mapping[str, Any] | float | None,
    chunk_size: int,
    verify_etag: EtagMode,
    verify_tls: bool,
    spool_threshold: int,
    spool_dir: str | None = None,
    callback: Callback | None = None,
) -> tuple[Uploader, HttpClient]:
    """The uploader of one object at ``url``, with its own connection (no API here:
    with no key nothing is ever authorised, and the base is never used)."""
    config = TransferConfig(
        max_concurrency=1,
        chunk_size=chunk_size,
        spool_threshold=spool_threshold,
        spool_dir=spool_dir,
        verify_etag=verify_etag,
        retry=RetryPolicy() if retry is None else coerce(RetryPolicy, retry, "retry"),
    )
    http = HttpClient(
        api_base="",
        api_key=None,
        pool_size=1,
        timeouts=None if timeouts is None else coerce(Timeouts, timeouts, "timeouts"),
        verify_tls=verify_tls,
    )
    target = PresignedPutTarget(http, url, content_type=content_type, headers=headers)
    uploader = Uploader(target, slots=PartConcurrency.fixed(1), config=config, callback=callback)
    return uploader, http


async def put_async(
    url: str,
    data_or_path: Data,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    retry: RetryPolicy | Mapping[str, Any] | str | None = None,
    timeouts: Timeouts | Mapping[str, Any] | float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    verify_etag: EtagMode = "auto",
    verify_tls: bool = True,
    spool_threshold: int = 8 << 20,
    callback: Callback | None = None,
) -> str:
    """PUT one whole object to a presigned ``url`` and return the storage's ``ETag``.

    ``data_or_path`` is bytes (sent without a copy), a local path (streamed from disk),
    or a readable binary file object (spooled first: the length must be known).
    ``content_type`` becomes the ``Content-Type`` header (presigned URLs usually sign
    only ``host``, so any value is accepted); ``headers`` adds others (never
    ``Authorization``: the URL carries its own authority).  Transient failures are
    retried per ``retry`` with the same bytes; a 403 (expired or altered URL) raises
    :class:`PresignedUrlRefused` at once; an object over 5 GiB raises
    :class:`~atai_fs.errors.FileTooLarge` before any request.

    :func:`put` is the same, blocking, for code not running in an event loop.
    """
    uploader, http = _uploader(
        url,
        content_type=content_type,
        headers=headers,
        retry=retry,
        timeouts=timeouts,
        chunk_size=chunk_size,
        verify_etag=verify_etag,
        verify_tls=verify_tls,
        spool_threshold=spool_threshold,
        callback=callback,
    )
    source = _source_of(data_or_path, spool_threshold=spool_threshold)
    try:
        result = await uploader.upload(source)
    finally:
        source.close()
        await http.close()
    return str(result["etag"])


def _blocking(coroutine_function: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, R]:
    """The blocking twin of a coroutine function, run on fsspec's IO loop."""

    @functools.wraps(coroutine_function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        result: R = sync(get_loop(), coroutine_function, *args, **kwargs)
        return result

    return run


#: PUT one whole object to a presigned ``url`` and return the storage's ``ETag``
#: (blocking; see :func:`put_async` for the options).
put = _blocking(put_async)


def open_presigned(
    url: str,
    size: int | None = None,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    retry: RetryPolicy | Mapping[str, Any] | str | None = None,
    timeouts: Timeouts | Mapping[str, Any] | float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    verify_etag: EtagMode = "auto",
    verify_tls: bool = True,
    spool_threshold: int = 8 << 20,
    spool_dir: str | None = None,
) -> UploadFile:
    """A writable binary file whose bytes are PUT to ``url`` at ``close()``.

    Without ``size`` the writes are spooled (memory up to ``spool_threshold``, then an
    unlinked temporary file) and sent with their exact length at close; with ``size``
    the object is refused at once if it is over 5 GiB, and writing more or fewer bytes
    fails.  An exception in a ``with`` block, or a file collected unclosed, sends
    nothing.  Other options as in :func:`put`.
    """
    uploader, http = _uploader(
        url,
        content_type=content_type,
        headers=headers,
        retry=retry,
        timeouts=timeouts,
        chunk_size=chunk_size,
        verify_etag=verify_etag,
        verify_tls=verify_tls,
        spool_threshold=spool_threshold,
        spool_dir=spool_dir,
    )
    target = uploader.target
    assert isinstance(target, PresignedPutTarget)
    if size is not None:
        target.check_size(size)
    # The file's name shows in messages and reprs: never the URL's signature.
    file = UploadFile(None, target.description, uploader, loop=get_loop(), size=size)
    weakref.finalize(file, http.close_all_sync)
    return file
