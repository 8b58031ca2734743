"""Archetype AI Files API: the control-plane calls and the upload target.

Spec: ``atai-files-api.md``.  This module knows the API's JSON in and out, its error
envelopes, its limits and its part plans; the engine knows nothing of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from ..advice import pass_options
from ..checksums import crc32c_base64
from ..engine.body import DEFAULT_CHUNK_SIZE, PartBody
from ..engine.plan import PartSpec, UploadPlan
from ..engine.sources import PartSource
from ..engine.target import Completion, ResumeRequest, Resumption, UploadTarget
from ..errors import (
    Conflict,
    FileTooLarge,
    InvalidRequest,
    NotFound,
    ProtocolError,
)
from ..http import HttpResponse
from ._api import ApiClient, ErrorBody, body_text, json_field, json_object, parse_timestamp
from .content_types import content_type, declared_type
from .presigned import put_part_presigned

__all__ = [
    "DEFAULT_ENDPOINT",
    "MAX_FILE_SIZE",
    "AtaiApi",
    "AtaiUploadTarget",
    "guess_file_type",
]

DEFAULT_ENDPOINT = "https://api.u1.archetypeai.app/v0.5"
_API_VERSION_PATH = "/v0.5"

#: A server's suggestion naming a raw REST route ("List files with GET /files/metadata")
#: speaks to callers of the HTTP API, not to users of a filesystem: it is left out.
_REST_ROUTE = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE|HEAD) /")

#: Direct-to-cloud uploads accept files up to 250 GB (spec section 7).
MAX_FILE_SIZE = 250 * 10**9

#: ``POST /files`` (one request, no part plan) accepts these types up to 512 MB.
SIMPLE_UPLOAD_TYPES = frozenset(
    {"image/jpeg", "image/png", "video/mp4", "text/plain", "text/csv", "application/json"}
)
SIMPLE_UPLOAD_LIMIT = 512 * 10**6

#: Names a multipart ``filename`` carries unambiguously (no path, quoting or encoding).
_PLAIN_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+=,@()-]{0,254}")

_STATUS_HINTS = {
    401: f"check the API key ({pass_options(('api_key', ...))} or set the ATAI_API_KEY "
    "environment variable)",
    403: "the API key is valid but lacks permission for this; ask an org admin",
    404: "check the name; it may have been deleted, or the upload may have expired",
    409: "the server state changed under this request (e.g. the upload was already "
    "completed or aborted, or a resumed upload differs in type or size)",
    413: "the file is over the server's size limit",
    429: "the API rate limit was exceeded; lower max_concurrency or retry later",
}


def guess_file_type(name: str, compression: str | None = None) -> str:
    """MIME type of the bytes of ``name`` (the API wants one at initiate): a compressed
    name or a ``compression`` wrapper is its compression's type; unknown types are
    binary."""
    return content_type(name, compression=compression) or "application/octet-stream"


def encode_file_id(name: str) -> str:
    """A file name as one URL path segment (``/`` and everything else escaped)."""
    return quote(name, safe="")


def _part_spec(item: Any, what: str) -> PartSpec:
    if not isinstance(item, Mapping):
        raise ProtocolError(f"{what}: a part descriptor is not an object")
    return PartSpec(
        number=json_field(item, "part_number", int, what),
        offset=json_field(item, "offset", int, what),
        length=json_field(item, "length", int, what),
        url=json_field(item, "url", str, what),
        expires_at=parse_timestamp(item.get("expires_at")),
    )


class AtaiApi(ApiClient):
    """Single-attempt calls to the Files API; callers wrap them in the retry policy.

    Every call waits for the filesystem's rate limiter first and reports 429s to it, so
    all uploads of a filesystem share one pace.
    """

    status_hints = _STATUS_HINTS

    def parse_error(self, response: HttpResponse) -> ErrorBody:
        """Either envelope (``{"errors": [...]}`` or the legacy ``{"detail": ...}``), or none."""
        return _parse_envelope(response)

    def hint(self, status: int, body: ErrorBody) -> str | None:
        """A 404 without the API's error envelope comes from no route of the API: the
        endpoint URL is wrong, whatever the file name (a missing ``/v0.5``, most often)."""
        if status == 404 and body.code is None:
            return (
                f"the endpoint URL {self.http.api_base} looks wrong: it answered 404 without "
                f"the API's error body; the Files API lives under {_API_VERSION_PATH} (e.g. "
                f"{DEFAULT_ENDPOINT}); check endpoint_url or ATAI_API_ENDPOINT"
            )
        return super().hint(status, body)

    # -- direct-to-cloud upload ------------------------------------------------------

    async def initiate(
        self, name: str, file_type: str, size: int, *, resume_if_started: bool = False
    ) -> UploadPlan:
        what = f"initiating the upload of atai://{name}"
        body: dict[str, Any] = {"filename": name, "file_type": file_type, "num_bytes": size}
        if resume_if_started:
            body["resume_if_started"] = True
        data = await self.call_json("POST", "files/uploads/initiate", what=what, json=body)
        data = json_object(data, what)
        parts = [_part_spec(item, what) for item in json_field(data, "parts", list, what)]
        total = data.get("total_bytes")
        num_parts = data.get("num_parts")
        return UploadPlan(
            upload_id=json_field(data, "upload_id", str, what),
            total_bytes=total if isinstance(total, int) else sum(p.length for p in parts),
            num_parts=num_parts if isinstance(num_parts, int) else len(parts),
            parts=parts,
            is_resume=bool(data.get("is_resume", False)),
            integrity_algorithm=data.get("integrity_algorithm") or None,
            details={"file_uid": data.get("file_uid"), "file_name": data.get("file_name")},
        )

    async def part_urls(self, upload_id: str, numbers: Sequence[int]) -> list[PartSpec]:
        what = "refreshing part URLs"
        data = await self.call_json(
            "POST",
            f"files/uploads/{quote(upload_id, safe='')}/parts/urls",
            what=what,
            json={"part_numbers": list(numbers)},
            upload_id=upload_id,
        )
        data = json_object(data, what)
        return [_part_spec(item, what) for item in json_field(data, "parts", list, what)]

    async def checkpoint(self, upload_id: str, tokens: Mapping[int, str]) -> None:
        await self.call(
            "POST",
            f"files/uploads/{quote(upload_id, safe='')}/parts/checkpoint",
            what="checkpointing parts",
            json={"parts": _token_list(tokens)},
            upload_id=upload_id,
        )

    async def complete(
        self, upload_id: str, tokens: Mapping[int, str], *, integrity_checksum: str | None = None
    ) -> Mapping[str, Any]:
        body: dict[str, Any] = {"parts": _token_list(tokens)}
        if integrity_checksum is not None:
            body["integrity_checksum"] = integrity_checksum
        what = "completing the upload"
        data = await self.call_json(
            "POST",
            f"files/uploads/{quote(upload_id, safe='')}/complete",
            what=what,
            json=body,
            upload_id=upload_id,
        )
        data = json_object(data, what)
        return data

    async def abort(self, upload_id: str) -> None:
        await self.call(
            "POST",
            f"files/uploads/{quote(upload_id, safe='')}/abort",
            what="aborting the upload",
            json={},
            upload_id=upload_id,
        )

    async def simple_upload(
        self, name: str, file_type: str, source: PartSource, *, chunk_size: int
    ) -> Mapping[str, Any]:
        """``POST /files``: the whole file in one multipart request, streamed from
        ``source`` with an exact ``Content-Length``; the server stores it atomically."""
        writer = aiohttp.MultipartWriter("form-data")
        part = writer.append_payload(
            PartBody(source, 0, source.size, chunk_size=chunk_size, content_type=file_type)
        )
        # Unquoted: the filename becomes the file_id verbatim (no %-encoding of spaces).
        part.set_content_disposition("form-data", quote_fields=False, name="file", filename=name)
        what = f"uploading atai://{name}"
        data = await self.call_json("POST", "files", what=what, data=writer)
        if not isinstance(data, Mapping) or data.get("is_valid") is False:
            raise ProtocolError(f"{what}: the server did not confirm the upload ({data!r:.200})")
        return data

    # -- files plane -------------------------------------------------------------------

    async def metadata(self, name: str) -> Mapping[str, Any]:
        """One file's metadata object; :class:`NotFound` for an unknown name."""
        what = f"reading the metadata of atai://{name}"
        data = await self.call_json("GET", f"files/metadata/{encode_file_id(name)}", what=what)
        if not isinstance(data, Mapping) or not isinstance(data.get("file_id"), str):
            raise ProtocolError(f"{what}: the answer is not a metadata object")
        return data

    async def list_page(
        self, *, limit: int, after: str | None = None
    ) -> tuple[list[Mapping[str, Any]], str | None]:
        """One page of the org's file metadata and the cursor of the next page (or None).

        Accepts both forms the API is known to answer with: the cursor object
        (``{data, has_more, next_cursor}``) and the bare shard array.
        """
        what = "listing files"
        params = {"limit": str(limit)}
        if after is not None:
            params["after"] = after
        data = await self.call_json("GET", "files/metadata", what=what, params=params)
        if isinstance(data, list):
            return _metadata_items(data, what), None
        if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
            raise ProtocolError(f"{what}: the answer is neither a page object nor an array")
        cursor = data.get("next_cursor")
        more = bool(data.get("has_more")) and isinstance(cursor, str) and bool(cursor)
        return _metadata_items(data["data"], what), (cursor if more else None)

    async def list_shard(self, index: int, size: int) -> list[Mapping[str, Any]]:
        """One shard of the shard form (for servers that ignore cursor parameters)."""
        what = "listing files"
        params = {"shard_index": str(index), "max_items_per_shard": str(size)}
        data = await self.call_json("GET", "files/metadata", what=what, params=params)
        if not isinstance(data, list):
            raise ProtocolError(f"{what}: expected an array for shard {index}")
        return _metadata_items(data, what)

    async def delete(self, name: str) -> None:
        await self.call(
            "DELETE", f"files/delete/{encode_file_id(name)}", what=f"deleting atai://{name}"
        )

    async def info(self) -> Mapping[str, Any]:
        """Org totals (``num_files``, ``num_bytes``, ...)."""
        data = await self.call_json("GET", "files/info", what="reading org file totals")
        if not isinstance(data, Mapping):
            raise ProtocolError("reading org file totals: the answer is not an object")
        return data

    def download_url(self, name: str) -> str:
        return self.http.api_url(f"files/download/{encode_file_id(name)}")


def _metadata_items(items: list[Any], what: str) -> list[Mapping[str, Any]]:
    good = [item for item in items if isinstance(item, Mapping)]
    for item in good:
        if not isinstance(item.get("file_id"), str):
            raise ProtocolError(f"{what}: a metadata entry lacks 'file_id'")
    return good


def _token_list(tokens: Mapping[int, str]) -> list[dict[str, Any]]:
    return [{"part_number": n, "part_token": tokens[n]} for n in sorted(tokens)]


def _parse_envelope(response: HttpResponse) -> ErrorBody:
    """The first error code and all messages and suggestions, from either envelope."""
    try:
        data = response.json()
    except ProtocolError:
        return ErrorBody(message=body_text(response))
    if isinstance(data, Mapping) and isinstance(data.get("errors"), list):
        codes, messages = [], []
        for item in data["errors"]:
            if not isinstance(item, Mapping):
                continue
            if item.get("code"):
                codes.append(str(item["code"]))
            text = str(item.get("message") or "")
            suggestion = str(item.get("suggestion") or "")
            if suggestion and not _REST_ROUTE.search(suggestion):
                text += f" ({suggestion})"
            if text:
                messages.append(text)
        return ErrorBody(code=codes[0] if codes else None, message="; ".join(messages))
    if isinstance(data, Mapping) and "detail" in data:
        return ErrorBody(message=str(data["detail"]))
    return ErrorBody(message=str(data)[:300])


class AtaiUploadTarget(UploadTarget):
    """One ``atai://`` file as an :class:`~atai_fs.engine.target.UploadTarget`.

    Small files of the types ``POST /files`` accepts go up in one request (up to
    ``single_request_limit`` bytes; 0 turns it off); others through initiate, presigned
    part PUTs and complete.
    """

    def __init__(
        self,
        api: AtaiApi,
        name: str,
        *,
        file_type: str | None = None,
        single_request_limit: int = 0,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.api = api
        self.name = name
        self.file_type = file_type or guess_file_type(name)
        self._type_from_name = file_type is None
        self.single_request_limit = single_request_limit
        self.chunk_size = chunk_size
        self.description = f"atai://{name}"

    def fits_one_request(self, size: int) -> bool:
        """Whether ``POST /files`` can take this file: small, of a type it accepts, and
        with a plain name (a multipart filename is a base name that servers may sanitise,
        so names with ``/``, quotes or non-ASCII keep the direct-to-cloud route, where
        the name travels as JSON)."""
        return (
            size <= min(self.single_request_limit, SIMPLE_UPLOAD_LIMIT)
            and self.file_type in SIMPLE_UPLOAD_TYPES
            and _PLAIN_FILENAME.fullmatch(self.name) is not None
        )

    async def upload_whole(self, source: PartSource) -> Completion:
        return await self.api.simple_upload(
            self.name, self.file_type, source, chunk_size=self.chunk_size
        )

    def look_at(self, head: bytes) -> None:
        """Compressed bytes under a name that promised text (``df.to_csv(...,
        compression="gzip")``, ``fsspec.open(..., compression=...)``) are declared as
        what they are, unless the caller named a type."""
        if self._type_from_name:
            self.file_type = declared_type(self.file_type, head) or self.file_type

    def check_size(self, size: int) -> None:
        """Refuse sizes the API cannot take, before any request."""
        if size < 0:
            raise InvalidRequest(f"{self.description}: size must not be negative, got {size}")
        if size > MAX_FILE_SIZE:
            raise FileTooLarge(
                f"{self.description}: {size} bytes is over the Files API limit of "
                f"{MAX_FILE_SIZE} bytes (250 GB); split the data into several files"
            )

    async def initiate(self, size: int, *, resume_if_started: bool = False) -> UploadPlan:
        self.check_size(size)
        return await self.api.initiate(
            self.name, self.file_type, size, resume_if_started=resume_if_started
        )

    async def resume(self, request: ResumeRequest) -> Resumption:
        """Initiate with ``resume_if_started``; keep what the server resumed only if the
        local record shows this run's file started it (the server matches by name, type
        and size alone, and would splice another file's parts onto ours)."""
        size, record, retry = request.size, request.record, request.retry
        what = f"initiate of {self.description}"
        try:
            plan = await retry.run(lambda: self.initiate(size, resume_if_started=True), what=what)
        except Conflict:
            # An upload of this name with another size or type is in progress: abandon
            # ours if we started it, then start afresh.
            if record is not None:
                await self.abandon(record.upload_id, retry)
            plan = await retry.run(lambda: self.initiate(size), what=what)
        ours = record is not None and record.started_from(request.identity)
        if plan.is_resume and not (ours and record and record.upload_id == plan.upload_id):
            await self.abandon(plan.upload_id, retry)
            plan = await retry.run(lambda: self.initiate(size), what=what)
        return Resumption(plan=plan)

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        return await self.api.part_urls(plan.upload_id, numbers)

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        return await put_part_presigned(self.api.http, part, body)

    async def checkpoint(self, plan: UploadPlan, tokens: Mapping[int, str]) -> None:
        await self.api.checkpoint(plan.upload_id, tokens)

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Completion:
        checksum = crc32c_base64(crc32c) if crc32c is not None else None
        return await self.api.complete(plan.upload_id, tokens, integrity_checksum=checksum)

    async def is_published(self, plan: UploadPlan) -> Completion | None:
        """The file's metadata when this very upload (its ``file_uid``, its size) is what
        the name now shows."""
        try:
            metadata = await self.api.metadata(self.name)
        except NotFound:
            return None
        uid = plan.details.get("file_uid")
        if metadata.get("num_bytes") != plan.total_bytes or (
            uid and metadata.get("file_uid") != uid
        ):
            return None
        return {
            "file_name": self.name,
            "file_uid": metadata.get("file_uid"),
            "num_bytes": metadata.get("num_bytes"),
            "upload_id": plan.upload_id,
            "recovered": True,
        }

    async def abort(self, plan: UploadPlan) -> None:
        await self.api.abort(plan.upload_id)
