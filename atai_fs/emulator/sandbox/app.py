"""Assemble one emulated sandbox upload API as an ``aiohttp.web.Application``.

Routes (``{prefix}`` is ``sandboxes`` or ``machines``, both served)::

    POST   /v1/{prefix}/{id}/uploads                          create    (route "create")
    GET    /v1/{prefix}/{id}/uploads/{upload_id}              status    (route "status")
    PUT    /v1/{prefix}/{id}/uploads/{upload_id}/parts/{n}    one part  (route "part")
    POST   /v1/{prefix}/{id}/uploads/{upload_id}/complete     complete  (route "complete")
    DELETE /v1/{prefix}/{id}/uploads/{upload_id}              abort     (route "abort")

Middlewares, outermost first: count the request; bound a session's parts in flight;
latency; inject a fault if one fires; turn any failure into the ``ErrorResponse`` body;
check the bearer key. Every answer gets its ``x-request-id`` as it is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .._shared import middleware
from .._shared.middleware import Handler, route_of
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from .._shared.transfer import save_body
from .config import SandboxConfig
from .errors import SandboxErrors, UploadError, request_id_of
from .faults import SandboxFaultInjector
from .files import PathRejected, SandboxFiles, normalize_target, sha256_of
from .state import (
    ABORTED,
    COMPLETED,
    COMPLETING,
    EXPIRED,
    FAILED,
    STAGED,
    UPLOADING,
    Session,
    SessionRegistry,
)

logger = logging.getLogger(__name__)

PART_SHA256_HEADER = "x-nullspace-part-sha256"
_SANDBOX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]*$")
_MAX_JSON_BODY = 1 << 20
_READ_CHUNK = 1 << 20

KINDS = ("file", "directory_tar")
SOURCE_KINDS = ("restartable_file", "spooled_stream", "directory_archive")
CONFLICTS = ("merge", "replace", "error")


@dataclass
class SandboxContext:
    config: SandboxConfig
    stats: EmulatorStats
    sessions: SessionRegistry
    files: SandboxFiles


CONTEXT_KEY = web.AppKey("sandbox_emulator_context", SandboxContext)


def build_sandbox_app(
    config: SandboxConfig,
    stats: EmulatorStats | None = None,
    faults: SandboxFaultInjector | None = None,
) -> web.Application:
    """A ready-to-run application serving ``config`` (``stats`` and ``faults`` may be
    passed to watch and steer it while it runs)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else EmulatorStats()
    faults = faults if faults is not None else SandboxFaultInjector(config.faults, config.seed)
    context = SandboxContext(
        config=config,
        stats=stats,
        sessions=SessionRegistry(config),
        files=SandboxFiles(config.data_dir),
    )
    errors = SandboxErrors()

    def unauthorized() -> UploadError:
        return UploadError(
            401,
            "Missing or invalid API key; send 'Authorization: Bearer <API key>'",
            code="unauthorized",
        )

    app = web.Application(
        middlewares=[
            middleware.count_requests(stats, api=middleware.everywhere),
            _limit_parts_in_flight,
            middleware.shape_network(NetworkShaper(config.latency)),
            middleware.inject_faults(faults, errors),
            middleware.error_bodies(errors),
            middleware.require_bearer(config.api_key, unauthorized, scope=middleware.everywhere),
        ],
        client_max_size=_MAX_JSON_BODY,
    )
    app[CONTEXT_KEY] = context
    app.on_response_prepare.append(_stamp_request_id)
    base = "/v1/{prefix:(sandboxes|machines)}/{sandbox_id}/uploads"
    app.router.add_post(base, create_session, name="create")
    app.router.add_get(base + "/{upload_id}", get_session, name="status")
    app.router.add_put(base + "/{upload_id}/parts/{part_number}", put_part, name="part")
    app.router.add_post(base + "/{upload_id}/complete", complete, name="complete")
    app.router.add_delete(base + "/{upload_id}", abort, name="abort")
    return app


# -- middlewares -------------------------------------------------------------------------


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer carries ``x-request-id`` (open point 4), injected faults and slow or
    cut bodies included; error bodies echo it."""
    response.headers["x-request-id"] = request_id_of(request)


@web.middleware
async def _limit_parts_in_flight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count a session's part PUTs from arrival to answer (what the client runs at
    once); one beyond its ``max_concurrency`` is 429 ``rate_limit_exceeded``."""
    if route_of(request) != "part":
        return await handler(request)
    ctx = request.app[CONTEXT_KEY]
    session = ctx.sessions.sessions.get(request.match_info["upload_id"])
    if session is None:
        return await handler(request)
    if session.parts_in_flight >= session.max_concurrency:
        return UploadError(
            429,
            f"more than max_concurrency={session.max_concurrency} parts in flight",
            retry_after=1,
        ).to_response(request)
    session.parts_in_flight += 1
    session.max_parts_in_flight = max(session.max_parts_in_flight, session.parts_in_flight)
    try:
        return await handler(request)
    finally:
        session.parts_in_flight -= 1


# -- helpers -----------------------------------------------------------------------------


def _context(request: web.Request) -> SandboxContext:
    return request.app[CONTEXT_KEY]


def _sandbox_id(request: web.Request) -> str:
    sandbox_id = request.match_info["sandbox_id"]
    known = _context(request).config.sandboxes
    if not _SANDBOX_ID.match(sandbox_id) or (known is not None and sandbox_id not in known):
        raise UploadError(404, f"sandbox {sandbox_id} not found", code="machine_not_found")
    return sandbox_id


def _session(request: web.Request, sandbox_id: str) -> Session:
    upload_id = request.match_info["upload_id"]
    session = _context(request).sessions.lookup(sandbox_id, upload_id, time.time())
    if session is None:
        raise UploadError(404, f"upload session {upload_id} not found", code="not_found")
    return session


def _session_body(request: web.Request, session: Session) -> dict[str, Any]:
    return session.to_json(request.match_info["prefix"], _context(request).config)


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 255:
        raise UploadError(400, "the Idempotency-Key header is required (1-255 characters)")
    return key


async def _json_object(request: web.Request, *, empty_ok: bool) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if empty_ok:
            return {}
        raise UploadError(400, "a JSON object body is required")
    try:
        data = json.loads(raw)
    except ValueError:
        raise UploadError(400, "the body is not valid JSON") from None
    if data is None and empty_ok:
        return {}
    if not isinstance(data, dict):
        raise UploadError(400, "the body must be a JSON object")
    return data


def _fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _refuse_unless_writable(session: Session, *, part: int | None = None) -> None:
    """Parts and complete are refused once the session is terminal or completing."""
    status = session.status
    if status == ABORTED:
        raise UploadError.upload(
            "upload_aborted", "the upload session was aborted", session=session, part_number=part
        )
    if status == EXPIRED:
        raise UploadError.upload(
            "upload_expired", "the upload session expired", session=session, part_number=part
        )
    if status == FAILED:
        raise UploadError.upload(
            "upload_aborted",
            f"the upload session failed at complete ({session.failure}); start a new upload",
            session=session,
            part_number=part,
        )
    if status in (COMPLETED, COMPLETING):
        raise UploadError.upload(
            "upload_already_completed",
            f"the upload session is {status}",
            session=session,
            part_number=part,
        )


def _check_create(body: dict[str, Any], config: SandboxConfig) -> dict[str, Any]:
    def enum(name: str, allowed: tuple[str, ...]) -> str:
        value = body.get(name)
        if value not in allowed:
            raise UploadError(400, f"{name} must be one of {list(allowed)}, got {value!r:.60}")
        return value

    request = {
        "kind": enum("kind", KINDS),
        "source_kind": enum("source_kind", SOURCE_KINDS),
        "conflict": enum("conflict", CONFLICTS),
    }
    enum("checksum_algorithm", ("sha256",))
    length = body.get("content_length")
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise UploadError(400, f"content_length must be a non-negative integer, got {length!r:.40}")
    request["content_length"] = length
    user = body.get("user")
    if user is not None and (not isinstance(user, str) or not _USER.match(user)):
        raise UploadError(400, f"user must be a user name, got {user!r:.40}")
    request["user"] = user
    archive = body.get("archive_format")
    if archive not in (None, "tar") or (archive and request["kind"] != "directory_tar"):
        raise UploadError(400, "archive_format must be 'tar' for directory_tar, absent otherwise")
    request["archive_format"] = archive
    digest = body.get("whole_checksum_sha256")
    if digest is not None and (not isinstance(digest, str) or not _SHA256.match(digest)):
        raise UploadError(400, "whole_checksum_sha256 must be 64 lowercase hex digits")
    request["whole_checksum_sha256"] = digest
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise UploadError(400, "metadata must be a JSON object")
    request["metadata"] = metadata or {}
    target = body.get("target_path")
    if not isinstance(target, str):
        raise UploadError(400, "target_path must be a string")
    try:
        request["target_path"] = normalize_target(target, user, config.roots)
    except PathRejected as exc:
        raise UploadError(400, exc.message, path=exc.path) from None
    return request


# -- handlers ----------------------------------------------------------------------------


async def create_session(request: web.Request) -> web.StreamResponse:
    ctx = _context(request)
    sandbox_id = _sandbox_id(request)
    key = _idempotency_key(request)
    body = await _json_object(request, empty_ok=False)
    fingerprint = _fingerprint(body)
    scope = (sandbox_id, "create", key)
    async with ctx.sessions.key_lock(scope):
        now = time.time()
        stored = ctx.sessions.replay(scope, now)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise UploadError(409, "Idempotency-Key reused with a different request body")
            return web.json_response(stored.body, status=stored.status)
        fields = _check_create(body, ctx.config)
        length = fields["content_length"]
        if length > ctx.config.max_upload_bytes:
            raise UploadError.upload(
                "size_limit_exceeded",
                f"content_length {length} is over max_upload_bytes {ctx.config.max_upload_bytes}",
                path=fields["target_path"],
                details={"max_upload_bytes": ctx.config.max_upload_bytes},
            )
        reserved = ctx.sessions.reserved_bytes(sandbox_id, now)
        if reserved + length > ctx.config.staging_quota_bytes:
            raise UploadError.upload(
                "insufficient_staging_space",
                f"{length} bytes do not fit the staging quota: {reserved} of "
                f"{ctx.config.staging_quota_bytes} bytes are reserved by other sessions",
                path=fields["target_path"],
                details={"reserved_bytes": reserved, "quota_bytes": ctx.config.staging_quota_bytes},
            )
        session = ctx.sessions.new_session(sandbox_id, fields, now)
        answer = {"session": _session_body(request, session)}
        ctx.sessions.remember(scope, fingerprint, 200, answer)
        return web.json_response(answer)


async def get_session(request: web.Request) -> web.StreamResponse:
    session = _session(request, _sandbox_id(request))
    return web.json_response(_session_body(request, session))


async def put_part(request: web.Request) -> web.StreamResponse:
    ctx = _context(request)
    session = _session(request, _sandbox_id(request))
    raw_number = request.match_info["part_number"]
    number = int(raw_number) if raw_number.isdigit() else -1
    _refuse_unless_writable(session, part=number if number >= 0 else None)
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
        raise UploadError.upload(
            "part_size_mismatch",
            f"part {number} must be {expected} bytes, Content-Length is {announced}",
            session=session,
            part_number=number,
            details={"expected_bytes": expected, "received_bytes": announced},
        )
    ctx.stats.put_started()
    stored: int | None = None
    try:
        stored = await _receive_part(request, session, number, expected)
    finally:
        ctx.stats.put_finished(stored_bytes=stored)
    return web.json_response(_session_body(request, session))


async def _receive_part(request: web.Request, session: Session, number: int, expected: int) -> int:
    temporary = session.staging_dir / f"{number:08d}.{secrets.token_hex(4)}.tmp"
    digest = hashlib.sha256()
    received = 0
    try:
        received = await save_body(
            request, temporary, expected=expected, digest=digest, chunk_size=_READ_CHUNK
        )
        if received != expected:
            raise UploadError.upload(
                "part_size_mismatch",
                f"part {number} must be {expected} bytes, received {received}",
                session=session,
                part_number=number,
                details={"expected_bytes": expected, "received_bytes": received},
            )
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
        _refuse_unless_writable(session, part=number)  # aborted while the body arrived?
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
    ctx = _context(request)
    sandbox_id = _sandbox_id(request)
    session = _session(request, sandbox_id)
    key = _idempotency_key(request)
    body = await _json_object(request, empty_ok=True)
    given = body.get("whole_checksum_sha256")
    if given is not None and (not isinstance(given, str) or not _SHA256.match(given)):
        raise UploadError(400, "whole_checksum_sha256 must be 64 lowercase hex digits")
    fingerprint = _fingerprint({"whole_checksum_sha256": given})
    scope = (sandbox_id, f"complete:{session.upload_id}", key)
    async with ctx.sessions.key_lock(scope):
        stored = ctx.sessions.replay(scope, time.time())
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise UploadError(409, "Idempotency-Key reused with a different request body")
            return web.json_response(stored.body, status=stored.status)
        _refuse_unless_writable(session)
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
        ctx.sessions.remember(scope, fingerprint, 200, answer)
        return web.json_response(answer)


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


def _concatenate(parts: list[Any], archive: Any) -> None:
    with open(archive, "wb") as out:
        for part in parts:
            with open(part, "rb") as data:
                while chunk := data.read(_READ_CHUNK):
                    out.write(chunk)


async def abort(request: web.Request) -> web.StreamResponse:
    ctx = _context(request)
    session = _session(request, _sandbox_id(request))
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
