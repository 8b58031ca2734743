"""Nullspace sandbox upload sessions: the control-plane calls and the session they answer.

Spec: ``sandbox-uploads.md``.  A session is created with an ``Idempotency-Key``; the
server answers with the part plan (``part_size``, ``part_count``, ``max_concurrency``),
which the engine follows exactly.  Parts go to the API itself (with the bearer key),
each carrying the SHA-256 of its bytes in ``x-nullspace-part-sha256``; ``complete``
sends the SHA-256 of the whole content; ``DELETE`` aborts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ...engine.body import PartBody
from ...engine.config import one_of
from ...engine.plan import PartSpec
from ...engine.ratelimit import RateLimiter
from ...errors import AtaiFsError, ConfigurationError, ProtocolError
from ...http import HttpClient, HttpResponse
from .._api import ApiClient, ErrorAnswer, ErrorBody, json_object, parse_timestamp
from .errors import STATUS_HINTS, parse_error_body, reason_error, reason_hint

__all__ = [
    "CONFLICTS",
    "DEFAULT_ENDPOINT",
    "DIRECT_UPLOAD_LIMIT",
    "KINDS",
    "PART_SHA256_HEADER",
    "ROUTE_PREFIXES",
    "SOURCE_KINDS",
    "TERMINAL_STATUSES",
    "SandboxApi",
    "SandboxSession",
]

DEFAULT_ENDPOINT = "https://api.13-215-85-171.sslip.io"

#: Largest file the vendor SDK sends by the direct route (spec 4.6 and 6): 8 MiB.
DIRECT_UPLOAD_LIMIT = 8 * 1024 * 1024

#: Where the direct route lives: only SDK 1.0.3 documents it, under ``/v1/machines``.
_DIRECT_PREFIX = "v1/machines"

PART_SHA256_HEADER = "x-nullspace-part-sha256"

#: ``route=`` option -> path prefix.  The docs use ``sandboxes``; SDK 1.0.3 ``machines``.
ROUTE_PREFIXES = {"sandboxes": "v1/sandboxes", "machines": "v1/machines"}

KINDS = ("file", "directory_tar")
SOURCE_KINDS = ("restartable_file", "spooled_stream", "directory_archive")
CONFLICTS = ("error", "replace", "merge")
TERMINAL_STATUSES = frozenset({"completed", "aborted", "expired", "failed"})


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
    def parse(cls, data: Any, what: str, *, retryable: bool = False) -> SandboxSession:
        """The session in ``data``; a :class:`ProtocolError` saying what is wrong, which
        is ``retryable`` where a retry is safe (a complete replayed by its key)."""
        try:
            return cls._parse(data, what)
        except ProtocolError as exc:
            if not retryable:
                raise
            raise ProtocolError(exc.message, retryable=True) from None

    @classmethod
    def _parse(cls, data: Any, what: str) -> SandboxSession:
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
            expires_at=parse_timestamp(data.get("expires_at")),
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


class SandboxApi(ApiClient):
    """Single-attempt calls to the upload-session endpoints; callers wrap them in the
    retry policy.  ``route`` picks the path prefix (``sandboxes`` or ``machines``)."""

    status_hints = STATUS_HINTS

    def __init__(
        self,
        http: HttpClient,
        limiter: RateLimiter | None = None,
        *,
        route: str = "sandboxes",
        require_key: Callable[[], None] | None = None,
    ) -> None:
        if route not in ROUTE_PREFIXES:
            raise ConfigurationError(
                f"route must be {one_of(sorted(ROUTE_PREFIXES))}, got {route!r}"
            )
        super().__init__(http, limiter, require_key=require_key)
        self.route = route

    def uploads_path(self, sandbox_id: str, *tail: str) -> str:
        pieces = [ROUTE_PREFIXES[self.route], quote(sandbox_id, safe=""), "uploads"]
        pieces += [quote(piece, safe="") for piece in tail]
        return "/".join(pieces)

    def parse_error(self, response: HttpResponse) -> ErrorBody:
        return parse_error_body(response)

    def hint(self, status: int, body: ErrorBody) -> str | None:
        return reason_hint(body) or super().hint(status, body)

    def make_error(self, answer: ErrorAnswer) -> AtaiFsError:
        """The exception for a documented ``reason``, else the status's."""
        return reason_error(answer) or super().make_error(answer)

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
            transfer=True,
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
        session = SandboxSession.parse(data.get("session"), what, retryable=True)
        if session.status != "completed":
            raise ProtocolError(
                f"{what}: the server answered 200 with session status {session.status!r} "
                f"[upload {upload_id}]"
            )
        return data

    async def upload_direct(
        self, sandbox_id: str, target_path: str, body: PartBody, *, user: str | None
    ) -> None:
        """``PUT /v1/machines/{id}/file?path=...``: the whole file in one request (spec
        4.6); no session, no checksum, and an existing file is overwritten."""
        params = {"path": target_path}
        if user is not None:
            params["user"] = user
        await self.call(
            "PUT",
            f"{_DIRECT_PREFIX}/{quote(sandbox_id, safe='')}/file",
            what=f"uploading {target_path} (direct)",
            params=params,
            data=body,
            headers={
                "Content-Length": str(body.length),
                "Content-Type": "application/octet-stream",
            },
            transfer=True,
        )

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
    return json_object(response.json(retryable=True), what, retryable=True)
