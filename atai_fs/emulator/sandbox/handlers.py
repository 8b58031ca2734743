"""The five routes of an upload session: create, status, one part, complete, abort."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from .._shared.transfer import save_body
from .checks import (
    SHA256_HEX,
    check_create,
    fingerprint_of,
    idempotency_key_of,
    json_object,
    refuse_unless_writable,
    sandbox_id_of,
    session_of,
)
from .context import SandboxContext, context_of
from .errors import UploadError
from .files import PathRejected, sha256_of
from .state import ABORTED, COMPLETED, COMPLETING, EXPIRED, FAILED, STAGED, UPLOADING, Session

PART_SHA256_HEADER = "x-nullspace-part-sha256"
_PART_NUMBER = re.compile(r"[0-9]{1,9}")
_READ_CHUNK = 1 << 20


def add_routes(app: web.Application) -> None:
    base = "/v1/{prefix:(sandboxes|machines)}/{sandbox_id}/uploads"
    app.router.add_post(base, create_session, name="create")
    app.router.add_get(base + "/{upload_id}", get_session, name="status")
    app.router.add_put(base + "/{upload_id}/parts/{part_number}", put_part, name="part")
    app.router.add_post(base + "/{upload_id}/complete", complete, name="complete")
    app.router.add_delete(base + "/{upload_id}", abort, name="abort")


def _session_body(request: web.Request, session: Session) -> dict[str, Any]:
    """The session as the route's prefix (``sandboxes`` or ``machines``) names it."""
    return session.to_json(request.match_info["prefix"], context_of(request).config)


async def create_session(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    sandbox_id = sandbox_id_of(request)
    key = idempotency_key_of(request)
    body = await json_object(request, empty_ok=False)

    async def create() -> dict[str, Any]:
        now = time.time()
        ctx.sessions.collect(now)  # each create first releases what abandoned ones held
        fields = check_create(body, ctx.config)
        try:
            ctx.files.check_destination(sandbox_id, fields.target_path)
        except PathRejected as exc:
            raise UploadError(400, exc.message, path=exc.path) from None
        length = fields.content_length
        if length > ctx.config.max_upload_bytes:
            raise UploadError.upload(
                "size_limit_exceeded",
                f"content_length {length} is over max_upload_bytes {ctx.config.max_upload_bytes}",
                path=fields.target_path,
                details={"max_upload_bytes": ctx.config.max_upload_bytes},
            )
        reserved = ctx.sessions.reserved_bytes(sandbox_id, now)
        if reserved + length > ctx.config.staging_quota_bytes:
            raise UploadError.upload(
                "insufficient_staging_space",
                f"{length} bytes do not fit the staging quota: {reserved} of "
                f"{ctx.config.staging_quota_bytes} bytes are reserved by other sessions",
                path=fields.target_path,
                details={"reserved_bytes": reserved, "quota_bytes": ctx.config.staging_quota_bytes},
            )
        session = ctx.sessions.new_session(sandbox_id, fields, now)
        return {"session": _session_body(request, session)}

    scope = (sandbox_id, "create", key)
    return await ctx.replays.answer_once(scope, fingerprint_of(body), create)


async def get_session(request: web.Request) -> web.StreamResponse:
    session = session_of(request, sandbox_id_of(request))
    return web.json_response(_session_body(request, session))


async def put_part(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    session = session_of(request, sandbox_id_of(request))
    raw_number = request.match_info["part_number"]
    # ASCII digits only: str.isdigit() also takes "²", which int() then refuses.
    number = int(raw_number) if _PART_NUMBER.fullmatch(raw_number) else -1
    refuse_unless_writable(session, part=number if number >= 0 else None)
    if not 0 <= number < session.part_count:
        raise UploadError.upload(
            "part_out_of_range",
            f"part {raw_number!r} is not in 0..{session.part_count - 1}",
            session=session,
            details={"part_count": session.part_count},
        )
    expected = session.part_length(number)
    announced = request.content_length
    if announced is not None and announced != expected:
        raise _size_mismatch(session, number, expected, announced, "Content-Length is")
    ctx.stats.put_started()
    stored: int | None = None
    try:
        stored = await _receive_part(request, session, number, expected)
    finally:
        ctx.stats.put_finished(stored_bytes=stored)
    return web.json_response(_session_body(request, session))


def _size_mismatch(
    session: Session, number: int, expected: int, got: int, what: str
) -> UploadError:
    return UploadError.upload(
        "part_size_mismatch",
        f"part {number} must be {expected} bytes, {what} {got}",
        session=session,
        part_number=number,
        details={"expected_bytes": expected, "received_bytes": got},
    )


async def _receive_part(request: web.Request, session: Session, number: int, expected: int) -> int:
    temporary = session.staging_dir / f"{number:08d}.{secrets.token_hex(4)}.tmp"
    digest = hashlib.sha256()
    received = 0
    try:
        received = await save_body(
            request, temporary, expected=expected, digest=digest, chunk_size=_READ_CHUNK
        )
        if received != expected:
            raise _size_mismatch(session, number, expected, received, "received")
        claimed = request.headers.get(PART_SHA256_HEADER)
        actual = digest.hexdigest()
        if claimed is not None and claimed.strip().lower() != actual:
            raise UploadError.upload(
                "invalid_part_checksum",
                "part checksum mismatch",
                session=session,
                part_number=number,
                details={"expected_sha256": claimed.strip().lower(), "received_sha256": actual},
            )
        refuse_unless_writable(session, part=number)  # aborted while the body arrived?
        temporary.replace(session.part_file(number))  # a replay: last write wins
        session.verified_parts += claimed is not None
    finally:
        temporary.unlink(missing_ok=True)
    session.parts[number] = expected
    session.part_digests[number] = actual
    session.updated_at = time.time()
    session.status = STAGED if len(session.parts) == session.part_count else UPLOADING
    return expected


async def complete(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    sandbox_id = sandbox_id_of(request)
    session = session_of(request, sandbox_id)
    key = idempotency_key_of(request)
    body = await json_object(request, empty_ok=True)
    given = body.get("whole_checksum_sha256")
    if given is not None and (not isinstance(given, str) or not SHA256_HEX.fullmatch(given)):
        raise UploadError(400, "whole_checksum_sha256 must be 64 lowercase hex digits")

    async def complete_session() -> dict[str, Any]:
        refuse_unless_writable(session)
        missing = [n for n in range(session.part_count) if n not in session.parts]
        if missing:
            raise UploadError.upload(
                "missing_parts",
                f"{len(missing)} of {session.part_count} parts were never accepted",
                session=session,
                details={"missing_parts": missing[:100], "next_part": missing[0]},
            )
        answer = await _publish(ctx, session, given)
        answer["session"] = _session_body(request, session)
        return answer

    scope = (sandbox_id, f"complete:{session.upload_id}", key)
    fingerprint = fingerprint_of({"whole_checksum_sha256": given})
    return await ctx.replays.answer_once(scope, fingerprint, complete_session)


async def _publish(ctx: SandboxContext, session: Session, given: str | None) -> dict[str, Any]:
    """Verify the whole digest, then publish; any failure fails the session for good."""
    session.status = COMPLETING
    parts = [session.part_file(n) for n in range(session.part_count)]
    try:
        expected = {d for d in (given, session.whole_checksum_sha256) if d is not None}
        if expected:
            actual = await asyncio.to_thread(sha256_of, parts)
            if expected != {actual}:
                raise UploadError.upload(
                    "whole_checksum_mismatch",
                    "the assembled content does not match whole_checksum_sha256",
                    session=session,
                    details={"expected_sha256": sorted(expected), "received_sha256": actual},
                )
            ctx.stats.count_checksum_verified()
        try:
            if session.kind == "file":
                published = await asyncio.to_thread(
                    ctx.files.publish_file,
                    session.sandbox_id,
                    session.target_path,
                    parts,
                    session.conflict,
                )
            else:
                archive = session.staging_dir / "archive.tar"
                await asyncio.to_thread(_concatenate, parts, archive)
                published = await asyncio.to_thread(
                    ctx.files.extract_tree,
                    session.sandbox_id,
                    session.target_path,
                    archive,
                    session.staging_dir,
                    session.conflict,
                )
        except PathRejected as exc:
            raise UploadError.upload(
                exc.reason,
                exc.message,
                session=session,
                path=session.target_path,
                details={"entry": exc.path} if exc.path else {},
            ) from None
    except UploadError as exc:
        ctx.sessions.end(session, FAILED, time.time(), failure=exc.reason)
        raise
    except BaseException:
        ctx.sessions.end(session, FAILED, time.time(), failure="internal_error")
        raise
    ctx.sessions.end(session, COMPLETED, time.time())
    return {"published_bytes": published.bytes, "published_file_count": published.files}


def _concatenate(parts: list[Path], archive: Path) -> None:
    with open(archive, "wb") as out:
        for part in parts:
            with open(part, "rb") as data:
                while chunk := data.read(_READ_CHUNK):
                    out.write(chunk)


async def abort(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    session = session_of(request, sandbox_id_of(request))
    if session.status == ABORTED:
        raise UploadError(404, f"upload session {session.upload_id} not found", code="not_found")
    if session.status in (COMPLETED, COMPLETING):
        raise UploadError.upload(
            "upload_already_completed", f"the upload session is {session.status}", session=session
        )
    if session.status == EXPIRED:
        raise UploadError.upload("upload_expired", "the upload session expired", session=session)
    if session.status != FAILED:  # a failed session stays failed: nothing left to release
        ctx.sessions.end(session, ABORTED, time.time())
    return web.Response(status=204)
