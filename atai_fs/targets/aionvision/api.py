"""Aionvision Uploads API: the control-plane calls.

Spec: ``aionvision-uploads.md``.  Single attempts; callers wrap them in the retry policy.
Multipart uploads are streamed from their sources with an exact ``Content-Length``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from ...engine.body import PartBody
from ...engine.sources import PartSource
from ...errors import AtaiFsError, ProtocolError
from ...http import HttpResponse
from .._api import ApiClient, ErrorAnswer, ErrorBody, json_field, json_object
from .errors import STATUS_HINTS, aionvision_error, parse_error_body

__all__ = ["DEFAULT_ENDPOINT", "AionVisionApi"]

DEFAULT_ENDPOINT = "https://api.aionvision.tech/api/v2"


class AionVisionApi(ApiClient):
    """Single-attempt calls to the Uploads API; callers wrap them in the retry policy.

    Every call waits for the filesystem's :class:`RateLimiter` first (paced to the tier's
    requests per minute) and reports 429s to it.
    """

    status_hints = STATUS_HINTS

    def parse_error(self, response: HttpResponse) -> ErrorBody:
        return parse_error_body(response)

    def make_error(self, answer: ErrorAnswer) -> AtaiFsError:
        return aionvision_error(answer)

    async def call_object(
        self, method: str, path: str, *, what: str, **kwargs: Any
    ) -> Mapping[str, Any]:
        """:meth:`call_json`, checked to be a JSON object."""
        return json_object(await self.call_json(method, path, what=what, **kwargs), what)

    # -- one file, one request -----------------------------------------------------------

    async def stream_upload(
        self,
        name: str,
        content_type: str,
        source: PartSource,
        fields: Mapping[str, str],
        *,
        chunk_size: int,
    ) -> Mapping[str, Any]:
        """``POST /user-files/upload/stream``: the file streamed from ``source`` (never
        read whole into memory) with an exact ``Content-Length``."""
        what = f"uploading {name!r} (stream)"
        data = await self.call_object(
            "POST",
            "user-files/upload/stream",
            what=what,
            data=_form("file", [(name, content_type, source)], fields, chunk_size),
            transfer=True,
        )
        json_field(data, "image_id", str, what)
        return data

    async def stream_batch(
        self,
        files: Sequence[tuple[str, str, PartSource]],
        fields: Mapping[str, str],
        *,
        chunk_size: int,
    ) -> Mapping[str, Any]:
        """``POST /user-files/upload/stream-batch``: ``files`` as (name, type, source)."""
        what = f"uploading a batch of {len(files)} files (stream-batch)"
        data = await self.call_object(
            "POST",
            "user-files/upload/stream-batch",
            what=what,
            data=_form("files", files, fields, chunk_size),
            transfer=True,
        )
        json_field(data, "session_id", str, what)
        return data

    # -- checks ----------------------------------------------------------------------------

    async def quota_check(self, file_count: int) -> Mapping[str, Any]:
        what = f"checking the upload quota for {file_count} files"
        data = await self.call_object(
            "GET", "uploads/quota-check", what=what, params={"file_count": str(file_count)}
        )
        json_field(data, "can_proceed", bool, what)
        return data

    async def check_duplicates(self, hashes: Sequence[str]) -> set[str]:
        """The subset of ``hashes`` (SHA-256 hex, at most 250) already stored."""
        what = f"checking {len(hashes)} hashes for duplicates"
        data = await self.call_object(
            "POST", "uploads/check-duplicates", what=what, json={"hashes": list(hashes)}
        )
        duplicates = json_field(data, "duplicates", list, what)
        return {str(h).lower() for h in duplicates}

    # -- presigned ------------------------------------------------------------------------

    async def request_presigned_url(
        self,
        name: str,
        content_type: str,
        size: int,
        *,
        idempotency_key: str,
        storage_target: str,
    ) -> Mapping[str, Any]:
        what = f"requesting an upload URL for {name!r}"
        body = {
            "filename": name,
            "content_type": content_type,
            "size_bytes": size,
            "idempotency_key": idempotency_key,
            "storage_target": storage_target,
        }
        data = await self.call_object("POST", "uploads/request-presigned-url", what=what, json=body)
        for key in ("upload_url", "upload_method", "object_key"):
            json_field(data, key, str, what)
        json_field(data, "max_size_bytes", int, what)
        return data

    async def confirm(
        self, object_key: str, size: int, *, checksum: str | None, content_type: str
    ) -> Mapping[str, Any]:
        what = f"confirming the upload of {object_key!r}"
        body = {
            "object_key": object_key,
            "size_bytes": size,
            "checksum": checksum,
            "content_type": content_type,
        }
        data = await self.call_object("POST", "uploads/confirm", what=what, json=body)
        json_field(data, "upload_id", str, what)
        if data.get("confirmed") is not True:
            raise ProtocolError(f"{what}: the server did not confirm it ({data!r:.200})")
        return data

    # -- presigned batches ------------------------------------------------------------------

    async def batch_prepare(
        self,
        files: Sequence[Mapping[str, Any]],
        *,
        intent: str,
        verification_level: str = "standard",
    ) -> Mapping[str, Any]:
        """``POST /uploads/batch-prepare``: up to 5 ``FileInfo`` objects; the answer's
        ``presigned_urls`` and ``upload_plan`` (checked)."""
        what = f"preparing a presigned batch of {len(files)} files"
        body = {
            "files": [dict(f) for f in files],
            "intent": intent,
            "verification_level": verification_level,
        }
        data = await self.call_object("POST", "uploads/batch-prepare", what=what, json=body)
        json_field(data, "batch_id", str, what)
        json_field(data, "upload_plan", dict, what)
        urls = json_field(data, "presigned_urls", list, what)
        for item in urls:
            if not isinstance(item, Mapping):
                raise ProtocolError(f"{what}: a presigned_urls item is not an object")
            for key in ("upload_url", "upload_method", "object_key"):
                json_field(item, key, str, what)
            json_field(item, "file_index", int, what)
        return data

    async def batch_confirm(
        self, batch_id: str, confirmations: Sequence[Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        """``POST /uploads/batch-confirm``: one confirmation per file."""
        what = f"confirming presigned batch {batch_id}"
        body = {"batch_id": batch_id, "confirmations": [dict(c) for c in confirmations]}
        data = await self.call_object("POST", "uploads/batch-confirm", what=what, json=body)
        json_field(data, "successful_uploads", int, what)
        return data

    async def batch_status(self, batch_id: str) -> Mapping[str, Any]:
        what = f"reading the status of presigned batch {batch_id}"
        data = await self.call_object("GET", f"uploads/batch/{batch_id}/status", what=what)
        json_field(data, "overall_status", str, what)
        json_field(data, "counts", dict, what)
        return data

    async def image_status(self, image_id: str) -> Mapping[str, Any]:
        """``GET /uploads/status/{image_id}``: where one file's processing is."""
        what = f"reading the processing status of image {image_id}"
        data = await self.call_object("GET", f"uploads/status/{image_id}", what=what)
        json_field(data, "unified_status", str, what)
        return data

    # -- sessions -------------------------------------------------------------------------

    async def session_status(self, session_id: str) -> Mapping[str, Any]:
        what = f"reading the status of upload session {session_id}"
        data = await self.call_object("GET", f"uploads/sessions/{session_id}/status", what=what)
        json_field(data, "status", str, what)
        return data

    async def session_results(
        self, session_id: str, *, offset: int, limit: int = 500
    ) -> Mapping[str, Any]:
        what = f"reading the results of upload session {session_id}"
        params = {"include_failed": "true", "offset": str(offset), "limit": str(limit)}
        data = await self.call_object(
            "GET", f"uploads/sessions/{session_id}/results", what=what, params=params
        )
        json_field(data, "results", list, what)
        return data

    async def cancel_session(self, session_id: str) -> Mapping[str, Any]:
        what = f"cancelling upload session {session_id}"
        return await self.call_object("POST", f"uploads/sessions/{session_id}/cancel", what=what)


def _form(
    field: str,
    files: Sequence[tuple[str, str, PartSource]],
    fields: Mapping[str, str],
    chunk_size: int,
) -> aiohttp.MultipartWriter:
    """A multipart form of ``files`` (name, type, source) under ``field``, each streamed
    from its source, then the text ``fields``."""
    writer = aiohttp.MultipartWriter("form-data")
    for name, content_type, source in files:
        part = writer.append_payload(
            PartBody(source, 0, source.size, chunk_size=chunk_size, content_type=content_type)
        )
        part.set_content_disposition("form-data", name=field, filename=name)
    for key, value in fields.items():
        writer.append(value).set_content_disposition("form-data", name=key)
    return writer
