"""One file into Aionvision, by the cheapest route the API offers for it.

* Already stored (``skip_duplicates``): its SHA-256 is asked about first
  (``check-duplicates``), and a stored copy means nothing is sent.
* Up to ``stream_limit`` (100 MB): one request, ``POST /user-files/upload/stream``,
  streamed from the source.  When the endpoint refuses the file (413) or is not enabled
  (501), the presigned route is taken instead.
* Larger: ``request-presigned-url``, one storage PUT with exactly the returned
  ``upload_headers``, then ``confirm`` with the size and checksum: the parts route with
  a single part.

Every route ends in the same completion: an
:class:`~atai_fs.targets.aionvision.options.UploadResult` as a mapping
(``UploadResult.from_completion`` reads it back).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ...checksums import md5_of_etag
from ...engine.body import DEFAULT_CHUNK_SIZE, PartBody
from ...engine.plan import PartSpec, UploadPlan
from ...engine.sources import PartSource
from ...engine.target import Completion, UploadTarget
from ...errors import AtaiFsError, FileTooLarge, ProtocolError, TransportError, UnsupportedFormat
from .._api import parse_timestamp
from ..content_types import sniff_compression
from ..presigned import put_part_presigned
from .api import AionVisionApi
from .options import (
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_STREAM_LIMIT,
    UploadOptions,
    UploadResult,
    check_file,
    content_type_for,
    file_name,
)

__all__ = ["AionVisionTarget", "sha256_of"]


def sha256_of(source: PartSource, chunk_size: int = DEFAULT_CHUNK_SIZE) -> str:
    """SHA-256 hex of a source's bytes, read in chunks (blocking: run it in a thread)."""
    digest = hashlib.sha256()
    position = 0
    while position < source.size:
        take = min(chunk_size, source.size - position)
        digest.update(source.read(position, take))
        position += take
    return digest.hexdigest()


def put_headers(url: Mapping[str, Any], where: str) -> dict[str, str]:
    """The headers a presigned upload URL (``request-presigned-url`` or a batch's) must be
    sent with, exactly; only PUT URLs are supported."""
    if str(url["upload_method"]).upper() != "PUT":
        raise ProtocolError(
            f"{where}: the API asked for a {url['upload_method']} form upload; only PUT "
            "upload URLs are supported"
        )
    headers = url.get("upload_headers") or {}
    if not isinstance(headers, Mapping):
        raise ProtocolError(f"{where}: the upload URL's 'upload_headers' is not an object")
    return {str(k): str(v) for k, v in headers.items()}


def presigned_part(url: Mapping[str, Any], size: int) -> PartSpec:
    """The one part of a presigned upload: the whole file, PUT to ``upload_url``."""
    return PartSpec(
        number=1,
        offset=0,
        length=size,
        url=str(url["upload_url"]),
        expires_at=parse_timestamp(url.get("expires_at")),
    )


def may_have_stored(error: AtaiFsError) -> bool:
    """Whether a failed upload request may still have stored the file (so its retry must
    ask the server to skip duplicates, or the file is stored twice)."""
    if isinstance(error, TransportError):
        return error.may_have_landed
    return error.retryable and error.status != 429


class AionVisionTarget(UploadTarget):
    """One file (shown as ``label`` in results) named after the last component of
    ``path``; see the module docstring for its routes.

    The one ``idempotency_key`` of this target makes a retried or refreshed URL request
    return the same ``object_key`` (with a fresh URL).  ``confirm`` sends the size and
    the MD5 of the stored bytes (the storage's ETag, which the engine checks against the
    bytes it sent); there is no abort call: an unconfirmed upload is never published.
    ``sha256`` is the content's digest when the caller knows it already.
    """

    def __init__(
        self,
        api: AionVisionApi,
        path: str,
        *,
        options: UploadOptions,
        label: str | None = None,
        stream_limit: int = DEFAULT_STREAM_LIMIT,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        sha256: str | None = None,
        dedupe: bool = True,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.api = api
        self.path = path
        self.name = file_name(path)
        self.options = options
        self.label = label or f"aionvision://{path}"
        self.stream_limit = stream_limit
        self.max_file_size = max_file_size
        self.chunk_size = chunk_size
        self.description = f"aionvision://{path}"
        self._sha256 = sha256
        self._dedupe = dedupe and options.skip_duplicates
        self._skip_on_retry = options.skip_duplicates
        self._idempotency_key = str(uuid.uuid4())
        self._upload_headers: dict[str, str] = {}  # of the current URL, sent exactly
        self.content_type = content_type_for(self.name)  # refuses other formats at once

    def _result(self, status: str, method: str, **fields: Any) -> Completion:
        return UploadResult(
            self.label, self.name, status, method, sha256=self._sha256, **fields
        ).completion()

    def look_at(self, head: bytes) -> None:
        """Compressed bytes under a name of a format the API takes are refused: it would
        store them as that format."""
        found = sniff_compression(head)
        if found:
            raise UnsupportedFormat(
                f"{self.name!r} holds {found}-compressed bytes; Aionvision takes its "
                "formats uncompressed only: write the file without compression"
            )

    # -- already stored ----------------------------------------------------------------

    async def already_stored(self, source: PartSource) -> Completion | None:
        check_file(self.name, source.size, self.max_file_size)
        if not self._dedupe:
            return None
        if self._sha256 is None:
            self._sha256 = await asyncio.to_thread(sha256_of, source, self.chunk_size)
        if self._sha256 in await self.api.check_duplicates([self._sha256]):
            return self._result("skipped", "check-duplicates")
        return None

    # -- one request -----------------------------------------------------------------

    def fits_one_request(self, size: int) -> bool:
        return size <= self.stream_limit

    async def upload_whole(self, source: PartSource) -> Completion | None:
        """``upload/stream``; ``None`` when the endpoint refuses the file (too large for
        it, or streaming not enabled), so the presigned route is taken."""
        try:
            data = await self.api.stream_upload(
                self.name,
                self.content_type,
                source,
                self.options.form_fields(skip_duplicates=self._skip_on_retry),
                chunk_size=self.chunk_size,
            )
        except AtaiFsError as exc:
            if isinstance(exc, FileTooLarge) or exc.status == 501:
                return None
            if may_have_stored(exc):
                self._skip_on_retry = True
            raise
        skipped = bool(data.get("skipped")) or data.get("status") == "skipped"
        existing = data.get("skipped_existing_image_id") or data.get("image_id")
        if skipped and self.options.skip_duplicates:
            return self._result(
                "skipped", "stream", existing_image_id=str(existing), response=dict(data)
            )
        # Not skipped, or skipped only because a retried attempt found the bytes an
        # earlier attempt had stored: either way the file is stored under this id.
        return self._result(
            "uploaded",
            "stream",
            image_id=str(existing if skipped else data["image_id"]),
            object_key=data.get("object_key"),
            response=dict(data),
        )

    # -- presigned: the parts route with one part ----------------------------------------

    async def initiate(self, size: int) -> UploadPlan:
        check_file(self.name, size, self.max_file_size)
        data = await self._request_url(size)
        object_key = data["object_key"]
        if size > data["max_size_bytes"]:
            raise FileTooLarge(
                f"{self.description}: {size} bytes is over the upload URL's limit of "
                f"{data['max_size_bytes']} bytes; nothing was uploaded"
            )
        return UploadPlan(
            upload_id=object_key,
            total_bytes=size,
            num_parts=1,
            parts=[self._part(data, size)],
            details={"object_key": object_key},
        )

    async def _request_url(self, size: int) -> Mapping[str, Any]:
        data = await self.api.request_presigned_url(
            self.name,
            self.content_type,
            size,
            idempotency_key=self._idempotency_key,
            storage_target=self.options.storage_target,
        )
        self._upload_headers = put_headers(data, self.description)
        return data

    @staticmethod
    def _part(data: Mapping[str, Any], size: int) -> PartSpec:
        return presigned_part(data, size)

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        data = await self._request_url(plan.total_bytes)
        if data["object_key"] != plan.upload_id:
            raise ProtocolError(
                f"{self.description}: a repeated URL request with the same idempotency key "
                f"answered another object ({data['object_key']!r} instead of {plan.upload_id!r})"
            )
        return [self._part(data, plan.total_bytes)]

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        return await put_part_presigned(self.api.http, part, body, headers=self._upload_headers)

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Completion:
        checksum = md5_of_etag(tokens.get(1, ""))
        confirmed = await self.api.confirm(
            plan.upload_id, plan.total_bytes, checksum=checksum, content_type=self.content_type
        )
        return self._confirmed(confirmed)

    async def is_published(self, plan: UploadPlan) -> Completion | None:
        """A lost confirm answer: confirming again is idempotent, so ask once more."""
        try:
            confirmed = await self.api.confirm(
                plan.upload_id, plan.total_bytes, checksum=None, content_type=self.content_type
            )
        except AtaiFsError:
            return None
        return self._confirmed(confirmed)

    def _confirmed(self, confirmed: Mapping[str, Any]) -> Completion:
        return self._result(
            "uploaded",
            "presigned",
            image_id=str(confirmed.get("upload_id")),
            object_key=str(confirmed.get("object_key")),
            response=dict(confirmed),
        )

    async def abort(self, plan: UploadPlan) -> None:
        """No abort call exists: an unconfirmed upload is simply never confirmed."""
