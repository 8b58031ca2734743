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

import asyncio
import os
import weakref
from collections.abc import Mapping, Sequence
from typing import IO, Any, Union

from fsspec.asyn import get_loop, sync
from fsspec.callbacks import Callback

from .engine.body import DEFAULT_CHUNK_SIZE, PartBody
from .engine.plan import PartSpec, UploadPlan
from .engine.retry import RetryPolicy
from .engine.sources import BytesSource, FileSource, PartSource, SpoolSource
from .engine.uploader import TransferConfig, Uploader
from .errors import AuthError, FileTooLarge, InvalidRequest, UrlExpired
from .fs.base import UploadFileSystem
from .fs.file import UploadFile
from .http import HttpClient, Timeouts
from .redact import redact_url
from .targets.presigned import put_part_presigned

__all__ = [
    "MAX_SINGLE_PUT_SIZE",
    "PresignedPutTarget",
    "PresignedUrlRefused",
    "open_presigned",
    "put",
    "put_async",
]

#: S3's limit for one ``PUT`` of a whole object (5 GiB); larger objects need multipart,
#: which a presigned PUT URL cannot do.
MAX_SINGLE_PUT_SIZE = 5 * 1024**3

#: Headers this module sets itself; a caller may not override them.
_RESERVED_HEADERS = frozenset({"authorization", "content-length", "transfer-encoding"})

Data = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes]]


class PresignedUrlRefused(AuthError):
    """The storage refused the URL as expired or not authorised (HTTP 403).

    Not retried: only whoever issued the URL can issue a fresh one.
    """

    retryable = False


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Caller headers for a presigned PUT, refusing the ones the PUT sets itself."""
    checked = dict(headers or {})
    for name in checked:
        if name.lower() in _RESERVED_HEADERS:
            raise InvalidRequest(
                f"header {name!r} cannot be set on a presigned PUT: the URL carries its own "
                "authority (storage refuses a second one) and the length is always exact"
            )
    return checked


def single_put_plan(
    upload_id: str, size: int, url: str, *, details: Mapping[str, Any]
) -> UploadPlan:
    """The plan of an object sent in one PUT: one part covering every byte."""
    part = PartSpec(number=1, offset=0, length=size, url=url)
    return UploadPlan(
        upload_id=upload_id, total_bytes=size, num_parts=1, parts=[part], details=details
    )


class PresignedPutTarget:
    """One object behind one presigned PUT URL, as an
    :class:`~atai_fs.engine.target.UploadTarget` whose plan is a single part.

    Subclasses that learn their URL from an API (the flow engine) override
    :meth:`resolve_url`; :meth:`expired_error` says what to do when storage refuses it.
    """

    def __init__(
        self,
        http: HttpClient,
        url: str | None = None,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_size: int = MAX_SINGLE_PUT_SIZE,
    ) -> None:
        self.http = http
        self.url = url
        self.content_type = content_type
        self.headers = check_headers(headers)
        if content_type:
            self.headers["Content-Type"] = content_type
        self.max_size = max_size
        self.description = redact_url(url) if url else "a presigned URL"

    def check_size(self, size: int) -> None:
        """Refuse sizes one PUT cannot carry, before any request."""
        if size < 0:
            raise InvalidRequest(f"{self.description}: size must not be negative, got {size}")
        if size > self.max_size:
            raise FileTooLarge(
                f"{self.description}: {size} bytes is over the single-PUT limit of "
                f"{self.max_size} bytes (5 GiB); a presigned PUT URL takes one whole object "
                "in one request, so split the data into several objects"
            )

    async def resolve_url(self, size: int) -> tuple[str, Mapping[str, Any]]:
        """The URL to PUT to and details kept in the plan."""
        if not self.url:
            raise InvalidRequest("no presigned URL was given")
        return self.url, {}

    async def initiate(self, size: int, *, resume: bool | None = None) -> UploadPlan:
        """Nothing to call: check the size, then plan one part at the URL."""
        self.check_size(size)
        url, details = await self.resolve_url(size)
        return single_put_plan(self.description, size, url, details=details)

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        """A presigned URL cannot be renewed by its user: the plan's part as it is."""
        return list(plan.parts)

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        try:
            return await put_part_presigned(self.http, part, body, headers=self.headers)
        except UrlExpired as exc:
            raise self.expired_error(exc) from None

    def expired_error(self, exc: UrlExpired) -> AuthError:
        return PresignedUrlRefused(
            f"{self.description}: the storage refused the URL as expired or not authorised "
            f"(HTTP {exc.status}); ask whoever issued it for a fresh one",
            status=exc.status,
        )

    async def checkpoint(self, plan: UploadPlan, tokens: Mapping[int, str]) -> None:
        """Never called: a single PUT cannot be resumed."""

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Mapping[str, Any]:
        """Nothing to call: the object exists once its one PUT succeeded (storage makes
        a single PUT atomic).  Returns the ``ETag`` and the plan's details."""
        return {"etag": tokens.get(1, ""), "size": plan.total_bytes, **plan.details}

    async def is_published(self, plan: UploadPlan) -> bool:
        """Never needed (complete makes no request that could lose its answer)."""
        return False

    async def abort(self, plan: UploadPlan) -> None:
        """Nothing to call: a PUT that did not succeed left no object behind."""


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


def _transfer_config(
    retry: RetryPolicy | dict[str, Any] | None,
    chunk_size: int,
    verify_etag: bool,
    spool_threshold: int,
) -> TransferConfig:
    if isinstance(retry, dict):
        retry = RetryPolicy(**retry)
    return TransferConfig(
        max_concurrency=1,
        chunk_size=chunk_size,
        spool_threshold=spool_threshold,
        verify_etag=verify_etag,
        retry=retry or RetryPolicy(),
    )


async def put_async(
    url: str,
    data_or_path: Data,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    retry: RetryPolicy | dict[str, Any] | None = None,
    timeouts: Timeouts | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    verify_etag: bool = True,
    verify_tls: bool = True,
    spool_threshold: int = 8 << 20,
    callback: Callback | None = None,
) -> str:
    """PUT bytes, a local file or a binary file object to ``url``; return the ``ETag``.

    See :func:`put`; this is the coroutine for code already running in an event loop.
    """
    config = _transfer_config(retry, chunk_size, verify_etag, spool_threshold)
    http = _storage_client(timeouts, verify_tls)
    target = PresignedPutTarget(http, url, content_type=content_type, headers=headers)
    source = _source_of(data_or_path, spool_threshold=spool_threshold)
    try:
        uploader = Uploader(target, limiter=asyncio.Semaphore(1), config=config, callback=callback)
        result = await uploader.upload(source)
    finally:
        source.close()
        await http.close()
    return str(result["etag"])


def put(
    url: str,
    data_or_path: Data,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    retry: RetryPolicy | dict[str, Any] | None = None,
    timeouts: Timeouts | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    verify_etag: bool = True,
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
    """
    return sync(
        get_loop(),
        put_async,
        url,
        data_or_path,
        content_type,
        headers,
        retry=retry,
        timeouts=timeouts,
        chunk_size=chunk_size,
        verify_etag=verify_etag,
        verify_tls=verify_tls,
        spool_threshold=spool_threshold,
        callback=callback,
    )


def _storage_client(timeouts: Timeouts | None, verify_tls: bool) -> HttpClient:
    # No API here: with no key, nothing is ever authorised, and the base is never used.
    return HttpClient(
        api_base="", api_key=None, pool_size=1, timeouts=timeouts, verify_tls=verify_tls
    )


class _PresignedWriter(UploadFileSystem):
    """The write machinery of :class:`UploadFileSystem` for one URL (not a protocol)."""

    protocol = ("presigned",)
    cachable = False

    def __init__(self, *, timeouts: Timeouts | None, verify_tls: bool, **options: Any) -> None:
        super().__init__(max_concurrency=1, **options)
        self.http = _storage_client(timeouts, verify_tls)
        weakref.finalize(self, self.http.close_all_sync)


def open_presigned(
    url: str,
    size: int | None = None,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    retry: RetryPolicy | dict[str, Any] | None = None,
    timeouts: Timeouts | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    verify_etag: bool = True,
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
    writer = _PresignedWriter(
        timeouts=timeouts,
        verify_tls=verify_tls,
        retry=retry,
        chunk_size=chunk_size,
        verify_etag=verify_etag,
        spool_threshold=spool_threshold,
        spool_dir=spool_dir,
    )
    target = PresignedPutTarget(writer.http, url, content_type=content_type, headers=headers)
    if size is not None:
        target.check_size(size)
    uploader = writer._run_on_loop(writer._new_uploader_async(target))
    # The file's name shows in messages and reprs: never the URL's signature.
    return UploadFile(writer, target.description, uploader, mode="wb", size=size)
