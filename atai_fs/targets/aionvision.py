"""Aionvision Uploads API: the control-plane calls, the upload options and results, and
the presigned upload target.

Spec: ``aionvision-uploads.md``.  This module knows the API's requests and answers, its
two error bodies, its tiers and limits; the filesystem (:mod:`atai_fs.fs.aionvision`)
decides which strategy a file takes and the engine sends presigned bytes.

The API assigns ids (``image_id``, ``object_key``); a client path only contributes its
last component as the file name sent.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp

from ..checksums import md5_of_etag
from ..engine.body import PartBody
from ..engine.plan import PartSpec, UploadPlan
from ..engine.ratelimit import RateLimit, RateLimiter
from ..engine.retry import parse_retry_after
from ..engine.sources import PartSource
from ..errors import (
    AtaiFsError,
    FileTooLarge,
    InvalidRequest,
    ProtocolError,
    RequestFailed,
    error_for_status,
)
from ..http import HttpClient, HttpResponse
from .common import error_message, json_field, json_object
from .presigned import put_part_presigned

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_STREAM_LIMIT",
    "SUPPORTED_TYPES",
    "TIERS",
    "AionVisionApi",
    "AionVisionPresignedTarget",
    "QuotaExceeded",
    "Tier",
    "UnsupportedFormat",
    "UploadOptions",
    "UploadResult",
    "content_type_for",
    "file_name",
    "sha256_of",
]

DEFAULT_ENDPOINT = "https://api.aionvision.tech/api/v2"

#: Files up to this size go through ``POST /user-files/upload/stream``.  The API says
#: "100 MB"; the decimal reading is the safe one (a 413 still falls back to presigned).
DEFAULT_STREAM_LIMIT = 100 * 10**6

#: Largest file accepted at all (checked before upload).  A presigned upload is one PUT,
#: and a single storage PUT is capped at 5 GiB by S3; each URL's ``max_size_bytes``
#: applies too.
DEFAULT_MAX_FILE_SIZE = 5 * 1024**3

#: File name extension -> MIME type of the formats the API accepts (spec 3.1).
SUPPORTED_TYPES: Mapping[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".txt": "text/plain",
    ".md": "text/markdown",
}

#: Hashes per ``check-duplicates`` request (spec: 1 to 250).
MAX_HASHES_PER_CHECK = 250

_STORAGE_TARGETS = ("default", "custom")
_INTENTS = ("describe", "verify", "rules")
_MAX_TITLE = 255
_MAX_TAGS = 40
_MAX_TAG_LENGTH = 50

_STATUS_HINTS = {
    401: "check the API key (api_key=... or the AIONVISION_API_KEY environment variable)",
    402: "the subscription or payment needs attention in the Aionvision dashboard",
    403: "the API key lacks permission for this",
    413: "the file or batch is over the server's size or count limit",
    429: "rate limited; lower the pace (tier=..., rate_limit=...) or retry later",
    501: "streaming uploads are not enabled for this workspace",
}


class UnsupportedFormat(InvalidRequest):
    """The file's format is not one the API accepts; refused before any upload."""


class QuotaExceeded(RequestFailed):
    """The workspace's upload quota cannot take the files; refused before uploading."""


@dataclass(frozen=True)
class Tier:
    """A subscription tier's documented limits (spec section 5, seed values)."""

    name: str
    batch_size: int
    """Files per ``stream-batch`` request."""
    requests_per_minute: int
    monthly_uploads: int | None
    """``None``: unlimited."""


TIERS: Mapping[str, Tier] = {
    "free": Tier("free", 10, 10, 1_000),
    "starter": Tier("starter", 20, 30, 10_000),
    "professional": Tier("professional", 20, 100, 50_000),
    "enterprise": Tier("enterprise", 50, 500, None),
}


def tier_named(name: str | Tier) -> Tier:
    if isinstance(name, Tier):
        return name
    try:
        return TIERS[str(name).lower()]
    except KeyError:
        raise InvalidRequest(
            f"unknown Aionvision tier {name!r}; use one of {', '.join(TIERS)}"
        ) from None


def tier_rate_limit(tier: Tier) -> RateLimit:
    """Client pacing that stays under the tier's requests per minute: a burst of the
    whole minute's allowance, then one request per ``60 / rpm`` seconds."""
    rpm = tier.requests_per_minute
    return RateLimit(per_second=float(rpm), burst=rpm, per_minute=float(rpm))


def file_name(path: str) -> str:
    """The file name the API is sent for a path: its last component."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def content_type_for(name: str) -> str:
    """The MIME type of a supported file name; :class:`UnsupportedFormat` otherwise."""
    dot = name.rfind(".")
    suffix = name[dot:].lower() if dot > 0 else ""
    mime = SUPPORTED_TYPES.get(suffix)
    if mime is None:
        raise UnsupportedFormat(
            f"{name!r}: Aionvision accepts only JPEG, PNG, WebP, GIF, PDF, DOCX, TXT and MD "
            f"files (by extension: {', '.join(SUPPORTED_TYPES)}); nothing was uploaded. "
            "Convert the file or give it the right extension"
        )
    return mime


@dataclass(frozen=True)
class UploadOptions:
    """What the API stores with each file (storage options, or per-call keywords)."""

    title: str | None = None
    tags: tuple[str, ...] = ()
    auto_describe: bool = True
    skip_duplicates: bool = False
    storage_target: str = "default"
    intent: str | None = None
    """``describe`` | ``verify`` | ``rules``: sent with ``stream-batch`` only."""

    @classmethod
    def build(cls, **values: Any) -> UploadOptions:
        """Validated options from loose values (``tags`` may be a list or a comma string)."""
        tags = values.pop("tags", None)
        if isinstance(tags, str):
            tags = [t for t in (piece.strip() for piece in tags.split(",")) if t]
        options = cls(tags=tuple(tags or ()), **{k: v for k, v in values.items() if v is not None})
        options.check()
        return options

    def merged(self, **overrides: Any) -> UploadOptions:
        """These options with per-call keywords (``None`` keeps the default) applied."""
        current = {
            "title": self.title,
            "tags": list(self.tags),
            "auto_describe": self.auto_describe,
            "skip_duplicates": self.skip_duplicates,
            "storage_target": self.storage_target,
            "intent": self.intent,
        }
        current.update({k: v for k, v in overrides.items() if v is not None})
        return UploadOptions.build(**current)

    def check(self) -> None:
        problems = []
        if self.title is not None and (not isinstance(self.title, str) or len(self.title) > 255):
            problems.append(f"title must be a string of at most {_MAX_TITLE} characters")
        if len(self.tags) > _MAX_TAGS:
            problems.append(f"at most {_MAX_TAGS} tags are allowed, got {len(self.tags)}")
        for tag in self.tags:
            if not isinstance(tag, str) or not tag or len(tag) > _MAX_TAG_LENGTH or "," in tag:
                problems.append(
                    f"tag {tag!r} must be 1 to {_MAX_TAG_LENGTH} characters without commas"
                )
        if self.storage_target not in _STORAGE_TARGETS:
            problems.append(f"storage_target must be one of {_STORAGE_TARGETS}")
        if self.intent is not None and self.intent not in _INTENTS:
            problems.append(f"intent must be one of {_INTENTS}")
        if problems:
            raise InvalidRequest("invalid Aionvision upload options: " + "; ".join(problems))

    def form_fields(self, *, skip_duplicates: bool | None = None, batch: bool = False) -> dict:
        """Multipart fields of the stream endpoints (booleans as ``true``/``false``)."""
        skip = self.skip_duplicates if skip_duplicates is None else skip_duplicates
        fields = {
            "auto_describe": _bool(self.auto_describe),
            "skip_duplicates": _bool(skip),
            "storage_target": self.storage_target,
        }
        if self.tags:
            fields["tags"] = ",".join(self.tags)
        if self.title is not None and not batch:
            fields["title"] = self.title
        if self.intent is not None and batch:
            fields["intent"] = self.intent
        return fields


def _bool(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class UploadResult:
    """What happened to one file.

    ``status`` is ``uploaded`` (``image_id`` is the stored file), ``skipped`` (a
    duplicate: ``existing_image_id`` when the API named it; ``check-duplicates`` does
    not), ``failed`` (``error`` says why) or ``pending`` (accepted by batch session
    ``session_id``, still processing when ``poll_timeout`` ran out, or ``wait=False``).
    ``method`` is ``stream``, ``stream-batch``, ``presigned`` or ``check-duplicates``.
    """

    path: str
    """The local path (``put``/``put_file``) or the remote path written."""
    name: str
    """The file name sent to the API."""
    status: str
    method: str
    image_id: str | None = None
    existing_image_id: str | None = None
    object_key: str | None = None
    session_id: str | None = None
    sha256: str | None = None
    error: str | None = None
    response: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def parse_expiry(value: Any) -> float | None:
    """Unix time of an ``expires_at``; a timestamp without offset is UTC (spec example)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _parse_error(response: HttpResponse) -> tuple[str | None, str]:
    """(code, message) from the envelope ``{"error": {...}, "request_id"}`` or FastAPI's
    ``{"detail": [...]}``, or the start of whatever else came."""
    try:
        data = response.json()
    except ProtocolError:
        return None, " ".join(response.text.split())[:300]
    if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
        error = data["error"]
        message = str(error.get("message") or "")
        details = error.get("details")
        if details:
            message += f" ({details})"
        if data.get("request_id"):
            message += f" [request_id {data['request_id']}]"
        code = error.get("code")
        return (str(code) if code else None), message
    if isinstance(data, Mapping) and "detail" in data:
        detail = data["detail"]
        if isinstance(detail, list):
            items = []
            for item in detail:
                if isinstance(item, Mapping):
                    where = ".".join(str(p) for p in item.get("loc", ()))
                    items.append(f"{where}: {item.get('msg', '')}")
            return "VALIDATION_ERROR", "; ".join(items)
        return None, str(detail)[:300]
    return None, str(data)[:300]


class AionVisionApi:
    """Single-attempt calls to the Uploads API; callers wrap them in the retry policy.

    Every call waits for the filesystem's :class:`RateLimiter` first (paced to the tier's
    requests per minute) and reports 429s to it.
    """

    def __init__(self, http: HttpClient, limiter: RateLimiter | None = None) -> None:
        self.http = http
        self.limiter = limiter or RateLimiter(None)

    async def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        transfer: bool = False,
    ) -> HttpResponse:
        """Send one API request; raise the mapped error for any non-2xx answer.

        ``transfer=True`` (a multipart upload) bounds silence on the socket instead of
        the whole call, since a large body may take longer than an API call may.
        """
        await self.limiter.acquire()
        timeout = None
        if transfer:
            timeouts = self.http.timeouts
            timeout = aiohttp.ClientTimeout(
                total=None, connect=timeouts.connect, sock_read=timeouts.read
            )
        response = await self.http.send(
            method,
            self.http.api_url(path),
            json=json,
            params=params,
            data=data,
            timeout=timeout,
        )
        if 200 <= response.status < 300:
            self.limiter.on_success()
            return response
        if response.status == 429:
            self.limiter.on_throttled()
        raise self.error(response, what)

    async def call_json(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, what=what, **kwargs)
        return json_object(response.json(), what)

    def error(self, response: HttpResponse, what: str) -> AtaiFsError:
        code, detail = _parse_error(response)
        hint = _STATUS_HINTS.get(response.status)
        message = self.http.redact(
            error_message(what, response.status, code=code, detail=detail, hint=hint)
        )
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if code in ("STORAGE_QUOTA_EXCEEDED", "USAGE_LIMIT_EXCEEDED"):
            return QuotaExceeded(message, status=response.status, code=code)
        error = error_for_status(response.status, message, code=code, retry_after=retry_after)
        if code == "MEMORY_LIMIT_EXCEEDED":
            error.retryable = True
        return error

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
        writer = aiohttp.MultipartWriter("form-data")
        part = writer.append_payload(
            PartBody(source, 0, source.size, chunk_size=chunk_size, content_type=content_type)
        )
        part.set_content_disposition("form-data", name="file", filename=name)
        for key, value in fields.items():
            writer.append(value).set_content_disposition("form-data", name=key)
        what = f"uploading {name!r} (stream)"
        data = await self.call_json(
            "POST", "user-files/upload/stream", what=what, data=writer, transfer=True
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
        writer = aiohttp.MultipartWriter("form-data")
        for name, content_type, source in files:
            part = writer.append_payload(
                PartBody(source, 0, source.size, chunk_size=chunk_size, content_type=content_type)
            )
            part.set_content_disposition("form-data", name="files", filename=name)
        for key, value in fields.items():
            writer.append(value).set_content_disposition("form-data", name=key)
        what = f"uploading a batch of {len(files)} files (stream-batch)"
        data = await self.call_json(
            "POST", "user-files/upload/stream-batch", what=what, data=writer, transfer=True
        )
        json_field(data, "session_id", str, what)
        return data

    # -- checks ----------------------------------------------------------------------------

    async def quota_check(self, file_count: int) -> Mapping[str, Any]:
        what = f"checking the upload quota for {file_count} files"
        data = await self.call_json(
            "GET", "uploads/quota-check", what=what, params={"file_count": str(file_count)}
        )
        json_field(data, "can_proceed", bool, what)
        return data

    async def check_duplicates(self, hashes: Sequence[str]) -> set[str]:
        """The subset of ``hashes`` (SHA-256 hex, at most 250) already stored."""
        what = f"checking {len(hashes)} hashes for duplicates"
        data = await self.call_json(
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
        data = await self.call_json("POST", "uploads/request-presigned-url", what=what, json=body)
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
        data = await self.call_json("POST", "uploads/confirm", what=what, json=body)
        json_field(data, "upload_id", str, what)
        if data.get("confirmed") is not True:
            raise ProtocolError(f"{what}: the server did not confirm it ({data!r:.200})")
        return data

    # -- sessions -------------------------------------------------------------------------

    async def session_status(self, session_id: str) -> Mapping[str, Any]:
        what = f"reading the status of upload session {session_id}"
        data = await self.call_json("GET", f"uploads/sessions/{session_id}/status", what=what)
        json_field(data, "status", str, what)
        return data

    async def session_results(
        self, session_id: str, *, offset: int, limit: int = 500
    ) -> Mapping[str, Any]:
        what = f"reading the results of upload session {session_id}"
        params = {"include_failed": "true", "offset": str(offset), "limit": str(limit)}
        data = await self.call_json(
            "GET", f"uploads/sessions/{session_id}/results", what=what, params=params
        )
        json_field(data, "results", list, what)
        return data

    async def cancel_session(self, session_id: str) -> Mapping[str, Any]:
        what = f"cancelling upload session {session_id}"
        return await self.call_json("POST", f"uploads/sessions/{session_id}/cancel", what=what)


class AionVisionPresignedTarget:
    """One file through ``request-presigned-url`` → storage PUT → ``confirm``, as an
    :class:`~atai_fs.engine.target.UploadTarget` with a single part.

    The one ``idempotency_key`` of this target makes a retried or refreshed URL request
    return the same ``object_key`` (with a fresh URL).  ``confirm`` sends the size and
    the MD5 of the stored bytes (the storage's ETag, which the engine checks against the
    bytes it sent); there is no abort call: an unconfirmed upload is never published.
    """

    def __init__(
        self,
        api: AionVisionApi,
        path: str,
        *,
        options: UploadOptions,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    ) -> None:
        self.api = api
        self.path = path
        self.name = file_name(path)
        self.options = options
        self.max_file_size = max_file_size
        self.content_type = content_type_for(self.name)
        self.idempotency_key = str(uuid.uuid4())
        self.description = f"aionvision://{path}"
        self.confirmed: Mapping[str, Any] | None = None
        #: ``upload_headers`` of the current URL, sent exactly on the PUT.
        self.upload_headers: dict[str, str] = {}

    def check_size(self, size: int) -> None:
        if size <= 0:
            raise InvalidRequest(
                f"{self.description}: the API takes files of at least 1 byte, got {size}"
            )
        if size > self.max_file_size:
            raise FileTooLarge(
                f"{self.description}: {size} bytes is over the limit of {self.max_file_size} "
                "bytes for one upload; nothing was uploaded"
            )

    async def initiate(self, size: int, *, resume: bool | None = None) -> UploadPlan:
        self.check_size(size)
        data = await self._request_url(size)
        object_key = data["object_key"]
        if size > data["max_size_bytes"]:
            raise FileTooLarge(
                f"{self.description}: {size} bytes is over the upload URL's limit of "
                f"{data['max_size_bytes']} bytes; nothing was uploaded"
            )
        part = self._part(data, size)
        return UploadPlan(
            upload_id=object_key,
            total_bytes=size,
            num_parts=1,
            parts=[part],
            details={"object_key": object_key},
        )

    async def _request_url(self, size: int) -> Mapping[str, Any]:
        data = await self.api.request_presigned_url(
            self.name,
            self.content_type,
            size,
            idempotency_key=self.idempotency_key,
            storage_target=self.options.storage_target,
        )
        if str(data["upload_method"]).upper() != "PUT":
            raise ProtocolError(
                f"{self.description}: the API asked for a {data['upload_method']} form "
                "upload; only PUT upload URLs are supported"
            )
        self.upload_headers = self._headers(data)
        return data

    @staticmethod
    def _part(data: Mapping[str, Any], size: int) -> PartSpec:
        return PartSpec(
            number=1,
            offset=0,
            length=size,
            url=data["upload_url"],
            expires_at=parse_expiry(data.get("expires_at")),
        )

    @staticmethod
    def _headers(data: Mapping[str, Any]) -> dict[str, str]:
        headers = data.get("upload_headers") or {}
        if not isinstance(headers, Mapping):
            raise ProtocolError("the upload URL's 'upload_headers' is not an object")
        return {str(k): str(v) for k, v in headers.items()}

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        data = await self._request_url(plan.total_bytes)
        if data["object_key"] != plan.upload_id:
            raise ProtocolError(
                f"{self.description}: a repeated URL request with the same idempotency key "
                f"answered another object ({data['object_key']!r} instead of {plan.upload_id!r})"
            )
        return [self._part(data, plan.total_bytes)]

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        return await put_part_presigned(self.api.http, part, body, headers=self.upload_headers)

    async def checkpoint(self, plan: UploadPlan, tokens: Mapping[int, str]) -> None:
        """Nothing to persist: a failed transfer is redone whole (spec 4.5)."""

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Mapping[str, Any]:
        checksum = md5_of_etag(tokens.get(1, ""))
        self.confirmed = await self.api.confirm(
            plan.upload_id, plan.total_bytes, checksum=checksum, content_type=self.content_type
        )
        return self.confirmed

    async def is_published(self, plan: UploadPlan) -> bool:
        """A lost confirm answer: confirming again is idempotent, so ask once more."""
        try:
            self.confirmed = await self.api.confirm(
                plan.upload_id, plan.total_bytes, checksum=None, content_type=self.content_type
            )
        except AtaiFsError:
            return False
        return True

    async def abort(self, plan: UploadPlan) -> None:
        """No abort call exists: an unconfirmed upload is simply never confirmed."""


def sha256_of(source: PartSource, chunk_size: int) -> str:
    """SHA-256 hex of a source's bytes, read in chunks."""
    digest = hashlib.sha256()
    position = 0
    while position < source.size:
        take = min(chunk_size, source.size - position)
        digest.update(source.read(position, take))
        position += take
    return digest.hexdigest()
