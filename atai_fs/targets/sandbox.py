"""Nullspace sandbox upload sessions: the control-plane calls and the upload target.

Spec: ``sandbox-uploads.md``.  A session is created with an ``Idempotency-Key``; the
server answers with the part plan (``part_size``, ``part_count``, ``max_concurrency``),
which the engine follows exactly.  Parts go to the API itself (with the bearer key),
each carrying the SHA-256 of its bytes in ``x-nullspace-part-sha256``; ``complete``
sends the SHA-256 of the whole content; ``DELETE`` aborts.

Every failure ``reason`` of the spec maps to one exception class below, each also the
builtin a Python user expects (``FileExistsError`` for a target conflict, ``ValueError``
for a size limit, ``OSError`` for the rest).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from ..engine.body import DEFAULT_CHUNK_SIZE, PartBody
from ..engine.plan import PartSpec, UploadPlan
from ..engine.retry import parse_retry_after
from ..engine.sources import PartSource
from ..errors import (
    AtaiFsError,
    Conflict,
    FileTooLarge,
    InvalidRequest,
    NotFound,
    ProtocolError,
    UploadFailed,
    error_for_status,
)
from ..http import HttpClient, HttpResponse
from .common import error_message

__all__ = [
    "DEFAULT_ENDPOINT",
    "PART_SHA256_HEADER",
    "ROUTE_PREFIXES",
    "SESSION_ENDING_REASONS",
    "AlreadyCompleted",
    "ArchiveRejected",
    "ChecksumMismatch",
    "InsufficientStagingSpace",
    "MissingParts",
    "PartRejected",
    "SandboxApi",
    "SandboxSession",
    "SandboxUploadError",
    "SandboxUploadTarget",
    "SessionGone",
    "SizeLimitExceeded",
    "TargetConflict",
    "UploadAborted",
    "UploadExpired",
    "digest_parts",
]

DEFAULT_ENDPOINT = "https://api.13-215-85-171.sslip.io"

PART_SHA256_HEADER = "x-nullspace-part-sha256"

#: ``route=`` option -> path prefix.  The docs use ``sandboxes``; SDK 1.0.3 ``machines``.
ROUTE_PREFIXES = {"sandboxes": "v1/sandboxes", "machines": "v1/machines"}

KINDS = ("file", "directory_tar")
SOURCE_KINDS = ("restartable_file", "spooled_stream", "directory_archive")
CONFLICTS = ("error", "replace", "merge")
TERMINAL_STATUSES = frozenset({"completed", "aborted", "expired", "failed"})


# -- errors ------------------------------------------------------------------------------


class SandboxUploadError(UploadFailed):
    """A sandbox upload failed for a documented ``reason`` (``self.reason``)."""

    reason: str | None = None


class ChecksumMismatch(SandboxUploadError):
    """A part's or the whole content's SHA-256 did not match what the server received."""


class PartRejected(SandboxUploadError, InvalidRequest):
    """The server refused a part as out of range or of the wrong size."""


class ArchiveRejected(SandboxUploadError, InvalidRequest):
    """A directory archive holds an entry the sandbox refuses to extract."""


class InsufficientStagingSpace(SandboxUploadError):
    """The sandbox's staging quota cannot hold this upload now."""


class MissingParts(SandboxUploadError):
    """``complete`` was called before every part was accepted."""


class SessionGone(SandboxUploadError):
    """The session can no longer be used (expired, aborted or failed)."""


class UploadExpired(SessionGone):
    """The session passed its ``expires_at``."""


class UploadAborted(SessionGone):
    """The session was aborted (``DELETE``)."""


class AlreadyCompleted(SandboxUploadError, Conflict):
    """The session was already completed (by an earlier request with another key)."""


class TargetConflict(SandboxUploadError, Conflict):
    """The destination exists and the session's ``conflict`` policy is ``error``."""


class SizeLimitExceeded(SandboxUploadError, FileTooLarge):
    """The upload is larger than the sandbox's ``max_upload_bytes``."""


#: reason -> (exception class, what to do)
_REASONS: dict[str, tuple[type[SandboxUploadError], str]] = {
    "invalid_part_checksum": (
        ChecksumMismatch,
        "the part's bytes changed between hashing and sending; make sure the local file "
        "is not modified during the upload",
    ),
    "whole_checksum_mismatch": (
        ChecksumMismatch,
        "the content the server assembled differs from the local content; the local data "
        "probably changed during the upload, upload it again",
    ),
    "part_out_of_range": (PartRejected, "the session has fewer parts; this is a client bug"),
    "part_size_mismatch": (
        PartRejected,
        "the local data changed size during the upload; upload it again",
    ),
    "directory_extract_invalid_path": (
        ArchiveRejected,
        "an archive entry is absolute, escapes the target with '..', or names a reserved path",
    ),
    "directory_extract_invalid_symlink": (
        ArchiveRejected,
        "a symlink points outside the uploaded tree; replace it with a relative link inside it",
    ),
    "directory_extract_unsupported_entry": (
        ArchiveRejected,
        "only regular files, directories and symlinks can be uploaded",
    ),
    "insufficient_staging_space": (
        InsufficientStagingSpace,
        "other uploads hold the sandbox's staging space; wait for them or abort them",
    ),
    "missing_parts": (MissingParts, "some parts were never accepted; resume the upload"),
    "size_limit_exceeded": (
        SizeLimitExceeded,
        "the upload is over the sandbox's max_upload_bytes; split it into smaller files",
    ),
    "target_conflict": (
        TargetConflict,
        "the destination exists; pass conflict='replace' or conflict='merge' to write over it",
    ),
    "upload_aborted": (UploadAborted, "the session was aborted; start a new upload"),
    "upload_already_completed": (
        AlreadyCompleted,
        "the session was already completed; nothing more to send",
    ),
    "upload_expired": (UploadExpired, "the session expired; start a new upload"),
}

_STATUS_HINTS = {
    401: "check the API key (api_key=... or the SANDBOX_API_KEY environment variable)",
    403: "the API key is valid but lacks permission for this sandbox",
    404: "check the sandbox id; the sandbox or the upload session may not exist any more",
    429: "the API rate limit was exceeded; lower max_concurrency or retry later",
}

#: Reasons after which the session is over (failed, aborted, expired or completed):
#: it cannot be resumed, only started afresh.
SESSION_ENDING_REASONS = frozenset(
    {
        "whole_checksum_mismatch",
        "target_conflict",
        "directory_extract_invalid_path",
        "directory_extract_invalid_symlink",
        "directory_extract_unsupported_entry",
        "upload_aborted",
        "upload_expired",
        "upload_already_completed",
    }
)

#: Reasons worth another attempt even though their status is a 4xx.
_RETRYABLE_REASONS = frozenset({"invalid_part_checksum"})


def _error_body(response: HttpResponse) -> tuple[str | None, str | None, str, dict[str, Any]]:
    """(code, reason, message, detail) from an ``ErrorResponse`` body, or from any body."""
    try:
        data = response.json()
    except ProtocolError:
        return None, None, " ".join(response.text.split())[:300], {}
    if not isinstance(data, Mapping):
        return None, None, str(data)[:300], {}
    error = data.get("error")
    code = data.get("code")
    detail = data.get("error_detail")
    if isinstance(error, Mapping):  # the SDK also accepts an object here
        code = code or error.get("code")
        detail = detail or error.get("error_detail")
        error = error.get("message")
    if not isinstance(detail, Mapping):
        detail = {}
    message = str(detail.get("message") or error or "")
    if not message and isinstance(data.get("errors"), list):  # a proxy's or foreign envelope
        message = "; ".join(str(e.get("message", e)) for e in data["errors"] if e)
    reason = detail.get("reason")
    return (
        str(code) if code else None,
        str(reason) if reason else None,
        message[:500],
        dict(detail),
    )


# -- sessions ----------------------------------------------------------------------------


def _parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _int(data: Mapping[str, Any], name: str, what: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{what}: the session lacks a valid {name!r} field (got {value!r:.80})")
    return value


@dataclass(frozen=True)
class SandboxSession:
    """The fields of an ``UploadSessionInfo`` the client relies on (checked on parse)."""

    upload_id: str
    status: str
    target_path: str
    content_length: int
    accepted_bytes: int
    part_size: int
    part_count: int
    max_concurrency: int
    next_part: int | None = None
    whole_checksum_sha256: str | None = None
    expires_at: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, data: Any, what: str) -> SandboxSession:
        if not isinstance(data, Mapping):
            raise ProtocolError(f"{what}: the answer is not a session object")
        upload_id = data.get("upload_id")
        status = data.get("status")
        if not isinstance(upload_id, str) or not upload_id:
            raise ProtocolError(f"{what}: the session lacks an 'upload_id'")
        if not isinstance(status, str):
            raise ProtocolError(f"{what}: the session lacks a 'status'")
        next_part = data.get("next_part")
        if next_part is not None and (not isinstance(next_part, int) or next_part < 0):
            raise ProtocolError(f"{what}: 'next_part' is not a part number ({next_part!r:.40})")
        digest = data.get("whole_checksum_sha256")
        session = cls(
            upload_id=upload_id,
            status=status,
            target_path=str(data.get("target_path") or ""),
            content_length=_int(data, "content_length", what),
            accepted_bytes=_int(data, "accepted_bytes", what),
            part_size=_int(data, "part_size", what),
            part_count=_int(data, "part_count", what),
            max_concurrency=_int(data, "max_concurrency", what),
            next_part=next_part,
            whole_checksum_sha256=digest if isinstance(digest, str) else None,
            expires_at=_parse_time(data.get("expires_at")),
            raw=dict(data),
        )
        session.check_plan(what)
        return session

    def check_plan(self, what: str) -> None:
        """The part plan must cover ``content_length`` exactly (never assumed, only checked)."""
        size, part_size, count = self.content_length, self.part_size, self.part_count
        expected = math.ceil(size / part_size) if part_size else (0 if size == 0 else -1)
        if count != expected:
            raise ProtocolError(
                f"{what}: the session plans {count} parts of {part_size} bytes for "
                f"{size} bytes (upload {self.upload_id}); refusing to send mismatched parts"
            )

    def parts(self, first: int = 0) -> list[PartSpec]:
        """Part descriptors from part ``first`` on (zero-based, as the API numbers them)."""
        return [
            PartSpec(
                number=n,
                offset=n * self.part_size,
                length=min(self.part_size, self.content_length - n * self.part_size),
            )
            for n in range(first, self.part_count)
        ]

    @property
    def usable_concurrency(self) -> int:
        return max(1, self.max_concurrency)


# -- the API -----------------------------------------------------------------------------


class SandboxApi:
    """Single-attempt calls to the upload-session endpoints; callers wrap them in the
    retry policy.  ``route`` picks the path prefix (``sandboxes`` or ``machines``)."""

    def __init__(self, http: HttpClient, *, route: str = "sandboxes") -> None:
        if route not in ROUTE_PREFIXES:
            raise InvalidRequest(f"route must be one of {sorted(ROUTE_PREFIXES)}, got {route!r}")
        self.http = http
        self.route = route

    def uploads_path(self, sandbox_id: str, *tail: str) -> str:
        pieces = [ROUTE_PREFIXES[self.route], quote(sandbox_id, safe=""), "uploads"]
        pieces += [quote(piece, safe="") for piece in tail]
        return "/".join(pieces)

    async def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        upload_id: str | None = None,
    ) -> HttpResponse:
        """Send one request; raise the mapped error for any non-2xx answer."""
        response = await self.http.send(
            method,
            self.http.api_url(path),
            json=json,
            data=data,
            headers=headers,
            timeout=timeout,
        )
        if 200 <= response.status < 300:
            return response
        raise self.error(response, what, upload_id=upload_id)

    def error(
        self, response: HttpResponse, what: str, *, upload_id: str | None = None
    ) -> AtaiFsError:
        """Turn an error response into the exception for its ``reason`` (or status)."""
        code, reason, detail, info = _error_body(response)
        upload_id = upload_id or (info.get("upload_id") if info.get("upload_id") else None)
        if isinstance(info.get("part_number"), int):
            detail = f"{detail} (part {info['part_number']})"
        message = error_message(what, response.status, code=reason or code, detail=detail)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        known = _REASONS.get(reason or "")
        if known is not None:
            cls, hint = known
            message += f" ({hint})" + (f" [upload {upload_id}]" if upload_id else "")
            error: AtaiFsError = cls(
                self.http.redact(message),
                status=response.status,
                code=code,
                retryable=reason in _RETRYABLE_REASONS or response.status in (429, 503),
                upload_id=upload_id,
                retry_after=retry_after,
            )
            error.reason = reason  # type: ignore[attr-defined]
            return error
        hint = _STATUS_HINTS.get(response.status, "")
        if hint:
            message += f" ({hint})"
        if upload_id:
            message += f" [upload {upload_id}]"
        return error_for_status(
            response.status,
            self.http.redact(message),
            code=code,
            upload_id=upload_id,
            retry_after=retry_after,
        )

    async def create_session(
        self, sandbox_id: str, body: Mapping[str, Any], *, idempotency_key: str, what: str
    ) -> SandboxSession:
        response = await self.call(
            "POST",
            self.uploads_path(sandbox_id),
            what=what,
            json=dict(body),
            headers={"Idempotency-Key": idempotency_key},
        )
        return SandboxSession.parse(_replayable_json(response, what).get("session"), what)

    async def get_session(self, sandbox_id: str, upload_id: str) -> SandboxSession:
        what = f"reading upload session {upload_id}"
        response = await self.call(
            "GET", self.uploads_path(sandbox_id, upload_id), what=what, upload_id=upload_id
        )
        return SandboxSession.parse(response.json(), what)

    async def put_part(
        self, sandbox_id: str, upload_id: str, part: PartSpec, body: PartBody, sha256: str
    ) -> SandboxSession:
        """PUT one part to the API: exact ``Content-Length``, its SHA-256 header, auth."""
        what = f"uploading part {part.number}"
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self.http.timeouts.connect, sock_read=self.http.timeouts.read
        )
        response = await self.call(
            "PUT",
            self.uploads_path(sandbox_id, upload_id, "parts", str(part.number)),
            what=what,
            data=body,
            headers={
                "Content-Length": str(part.length),
                "Content-Type": "application/octet-stream",
                PART_SHA256_HEADER: sha256,
            },
            timeout=timeout,
            upload_id=upload_id,
        )
        return SandboxSession.parse(response.json(), what)

    async def complete(
        self, sandbox_id: str, upload_id: str, *, whole_sha256: str | None, idempotency_key: str
    ) -> Mapping[str, Any]:
        what = "completing the upload"
        body = {"whole_checksum_sha256": whole_sha256} if whole_sha256 else {}
        response = await self.call(
            "POST",
            self.uploads_path(sandbox_id, upload_id, "complete"),
            what=what,
            json=body,
            headers={"Idempotency-Key": idempotency_key},
            upload_id=upload_id,
        )
        data = _replayable_json(response, what)
        try:
            session = SandboxSession.parse(data.get("session"), what)
        except ProtocolError as exc:
            exc.retryable = True
            raise
        if session.status != "completed":
            raise ProtocolError(
                f"{what}: the server answered 200 with session status {session.status!r} "
                f"[upload {upload_id}]"
            )
        return data

    async def abort(self, sandbox_id: str, upload_id: str) -> None:
        await self.call(
            "DELETE",
            self.uploads_path(sandbox_id, upload_id),
            what="aborting the upload",
            upload_id=upload_id,
        )


def _replayable_json(response: HttpResponse, what: str) -> Mapping[str, Any]:
    """The JSON object of a create or complete answer.  An unreadable one is retryable:
    the retry carries the same ``Idempotency-Key``, so the server replays its answer
    instead of doing the work twice."""
    try:
        data = response.json()
    except ProtocolError as exc:
        exc.retryable = True
        raise
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{what}: the answer is not a JSON object", retryable=True)
    return data


# -- digests -----------------------------------------------------------------------------


def digest_parts(
    source: PartSource,
    part_size: int,
    *,
    whole: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[str | None, dict[int, str]]:
    """One sequential pass over ``source``: the whole SHA-256 and each part's SHA-256.

    Why a pass before sending: parts go out concurrently and out of order, and SHA-256
    (unlike CRC32C) cannot be combined from per-part values, so the whole digest needs
    the bytes in order; and each part's header must be known before its body is sent.
    Reading the source once, sequentially, in ``chunk_size`` pieces gives both with
    bounded memory; the send then re-reads each part (the page cache usually serves it).
    """
    total = hashlib.sha256() if whole else None
    digests: dict[int, str] = {}
    size = source.size
    for number, offset in enumerate(range(0, size, part_size or 1)):
        length = min(part_size, size - offset)
        part = hashlib.sha256()
        position = offset
        while position < offset + length:
            take = min(chunk_size, offset + length - position)
            chunk = source.read(position, take)
            part.update(chunk)
            if total is not None:
                total.update(chunk)
            position += take
        digests[number] = part.hexdigest()
    return (total.hexdigest() if total is not None else None), digests


def _digest_range(source: PartSource, offset: int, length: int, chunk_size: int) -> str:
    digest = hashlib.sha256()
    position, end = offset, offset + length
    while position < end:
        take = min(chunk_size, end - position)
        digest.update(source.read(position, take))
        position += take
    return digest.hexdigest()


# -- the target --------------------------------------------------------------------------


class SandboxUploadTarget:
    """One upload (a file, or a directory archive) into one sandbox path.

    Idempotency keys: one per logical operation.  The key of a create (or a complete)
    is made on its first attempt and kept until that operation succeeds, so the
    engine's retries of the same operation reuse it and the server never does the
    work twice; the next logical operation gets a fresh key.
    """

    def __init__(
        self,
        api: SandboxApi,
        sandbox_id: str,
        target_path: str,
        *,
        kind: str = "file",
        source_kind: str = "restartable_file",
        conflict: str = "error",
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        whole_sha256: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        if kind not in KINDS:
            raise InvalidRequest(f"kind must be one of {KINDS}, got {kind!r}")
        if source_kind not in SOURCE_KINDS:
            raise InvalidRequest(f"source_kind must be one of {SOURCE_KINDS}, got {source_kind!r}")
        if conflict not in CONFLICTS:
            raise InvalidRequest(
                f"conflict must be one of {CONFLICTS} (what to do when {target_path} exists), "
                f"got {conflict!r}"
            )
        self.api = api
        self.sandbox_id = sandbox_id
        self.target_path = target_path
        self.kind = kind
        self.source_kind = source_kind
        self.conflict = conflict
        self.user = user
        self.metadata = dict(metadata or {})
        #: SHA-256 of the whole content, when known (sent at create and at complete).
        self.whole_sha256 = whole_sha256
        #: Per-part SHA-256 computed ahead (by :func:`digest_parts`); others are hashed
        #: from the part's source range just before it is sent.
        self.part_digests: dict[int, str] = {}
        self.chunk_size = chunk_size
        self.session: SandboxSession | None = None
        self.description = f"sandbox://{sandbox_id}{target_path}"
        self._create_key: str | None = None
        self._complete_key: str | None = None

    def create_body(self, size: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "source_kind": self.source_kind,
            "target_path": self.target_path,
            "content_length": size,
            "conflict": self.conflict,
            "checksum_algorithm": "sha256",
            "archive_format": "tar" if self.kind == "directory_tar" else None,
            "whole_checksum_sha256": self.whole_sha256,
            "metadata": self.metadata,
        }
        if self.user is not None:
            body["user"] = self.user
        return body

    def plan_for(self, session: SandboxSession, *, first: int = 0) -> UploadPlan:
        """The engine's plan for ``session``, from part ``first`` on."""
        self.session = session
        return UploadPlan(
            upload_id=session.upload_id,
            total_bytes=session.content_length,
            num_parts=session.part_count,
            parts=session.parts(first),
            is_resume=first > 0,
            details={"session": session},
            max_concurrency=session.usable_concurrency,
        )

    async def initiate(self, size: int, *, resume: bool | None = None) -> UploadPlan:
        if self._create_key is None:
            self._create_key = str(uuid.uuid4())
        what = f"creating an upload session for {self.description}"
        session = await self.api.create_session(
            self.sandbox_id, self.create_body(size), idempotency_key=self._create_key, what=what
        )
        self._create_key = None  # the next create is another logical operation
        if session.content_length != size:
            raise ProtocolError(
                f"{what}: the session expects {session.content_length} bytes, not {size}"
            )
        return self.plan_for(session)

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        return [part for part in plan.parts if part.number in set(numbers)]  # no URLs to expire

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        digest = self.part_digests.get(part.number)
        if digest is None:
            digest = await asyncio.to_thread(
                _digest_range, body.source, body.offset, body.length, self.chunk_size
            )
        session = await self.api.put_part(self.sandbox_id, self._upload_id(), part, body, digest)
        self.session = session
        return digest

    async def checkpoint(self, plan: UploadPlan, tokens: Mapping[int, str]) -> None:
        """Nothing to do: the server records each accepted part itself."""

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Mapping[str, Any]:
        if self._complete_key is None:
            self._complete_key = str(uuid.uuid4())
        result = await self.api.complete(
            self.sandbox_id,
            plan.upload_id,
            whole_sha256=self.whole_sha256,
            idempotency_key=self._complete_key,
        )
        self._complete_key = None
        return result

    async def is_published(self, plan: UploadPlan) -> bool:
        try:
            session = await self.api.get_session(self.sandbox_id, plan.upload_id)
        except NotFound:
            return False
        return session.status == "completed"

    async def abort(self, plan: UploadPlan) -> None:
        await self.api.abort(self.sandbox_id, plan.upload_id)

    def _upload_id(self) -> str:
        if self.session is None:
            raise RuntimeError("the upload session was not created")
        return self.session.upload_id
