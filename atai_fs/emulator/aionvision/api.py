"""The Uploads API handlers: stream uploads, batches and sessions, checks, presigned
upload and confirm."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web

from .._shared.stats import EmulatorStats
from .._shared.storage import PresignedStorage, url_origin
from .config import API_PREFIX, AionVisionConfig
from .errors import AionError, ValidationFailed, invalid
from .faults import BATCH_FILE_ROUTE, AionFaultInjector
from .formats import DOCUMENT_TYPES, MIME_TYPES, content_type_of
from .state import (
    SESSION_TERMINAL,
    Reservation,
    Session,
    SessionFile,
    StoredFile,
    Workspace,
    now_iso,
)

_CHUNK = 1 << 20
_MAX_FIELD = 64 * 1024
_MAX_PARTS = 1000
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class AionContext:
    """Configuration, counters, storage and state of one emulated workspace."""

    config: AionVisionConfig
    stats: EmulatorStats
    storage: PresignedStorage
    workspace: Workspace
    faults: AionFaultInjector


CONTEXT_KEY = web.AppKey("aionvision_emulator_context", AionContext)


def context_of(request: web.Request) -> AionContext:
    return request.app[CONTEXT_KEY]


def add_routes(app: web.Application) -> None:
    prefix = API_PREFIX
    app.router.add_post(f"{prefix}/user-files/upload/stream", stream_upload, name="stream_upload")
    app.router.add_post(
        f"{prefix}/user-files/upload/stream-batch", stream_batch, name="stream_batch"
    )
    app.router.add_get(f"{prefix}/uploads/quota-check", quota_check, name="quota_check")
    app.router.add_post(
        f"{prefix}/uploads/check-duplicates", check_duplicates, name="check_duplicates"
    )
    app.router.add_post(
        f"{prefix}/uploads/request-presigned-url",
        request_presigned_url,
        name="request_presigned_url",
    )
    app.router.add_post(f"{prefix}/uploads/confirm", confirm, name="confirm")
    sessions = f"{prefix}/uploads/sessions/{{session_id}}"
    app.router.add_get(f"{sessions}/status", session_status, name="session_status")
    app.router.add_get(f"{sessions}/results", session_results, name="session_results")
    app.router.add_post(f"{sessions}/cancel", session_cancel, name="session_cancel")


# -- request parsing -------------------------------------------------------------------


@dataclass
class Received:
    """One file part of a multipart upload, spooled to disk with its digest."""

    field: str
    filename: str
    path: Path
    size: int
    sha256: str
    too_large: bool


async def _read_field(part: BodyPartReader, name: str) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > _MAX_FIELD:
            raise invalid(("body", name), f"field is longer than {_MAX_FIELD} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid(("body", name), "field is not UTF-8 text") from None


async def _read_file(part: BodyPartReader, ctx: AionContext, limit: int) -> Received:
    """Spool a file part to disk; bytes beyond ``limit`` are drained, not kept."""
    path = ctx.workspace.incoming_path()
    digest = hashlib.sha256()
    size = 0
    with open(path, "wb") as out:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size <= limit:
                digest.update(chunk)
                out.write(chunk)
    return Received(
        part.name or "", part.filename or "", path, size, digest.hexdigest(), size > limit
    )


async def _read_multipart(
    request: web.Request, ctx: AionContext, file_field: str, *, max_files: int
) -> tuple[list[Received], dict[str, str]]:
    """Every part of a multipart body: files spooled (``stream_limit`` each) and fields.

    More than ``max_files`` files, or more than ``batch_max_bytes`` in total, is 413.
    """
    if not request.content_type.startswith("multipart/form-data"):
        raise invalid(("body",), "expected a multipart/form-data body", "type_error")
    files: list[Received] = []
    fields: dict[str, str] = {}
    try:
        reader = await request.multipart()
        parts = 0
        while (part := await reader.next()) is not None:
            parts += 1
            if parts > _MAX_PARTS or not isinstance(part, BodyPartReader):
                raise invalid(("body",), "too many or nested parts")
            if part.filename is not None:
                if part.name != file_field:
                    await part.release()
                    continue
                if len(files) >= max_files:
                    raise AionError(
                        413,
                        "VALIDATION_ERROR",
                        f"Too many files: at most {max_files} per request on this tier",
                        {"max_files": max_files},
                    )
                files.append(await _read_file(part, ctx, ctx.config.stream_limit))
                total = sum(f.size for f in files)
                if file_field == "files" and total > ctx.config.batch_max_bytes:
                    raise AionError(
                        413,
                        "VALIDATION_ERROR",
                        f"Batch too large: at most {ctx.config.batch_max_bytes} bytes in total",
                    )
            elif part.name:
                fields[part.name] = await _read_field(part, part.name)
    except BaseException:
        for item in files:
            item.path.unlink(missing_ok=True)
        raise
    return files, fields


def _bool_field(fields: dict[str, str], name: str, default: bool) -> bool:
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise invalid(("body", name), "value could not be parsed to a boolean", "bool_parsing")


def _common_fields(fields: dict[str, str]) -> dict[str, Any]:
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    title = fields.get("title")
    if title is not None and len(title) > 255:
        problems.append((("body", "title"), "at most 255 characters", "string_too_long"))
    tags = tuple(t.strip() for t in fields.get("tags", "").split(",") if t.strip())
    if len(tags) > 40 or any(len(t) > 50 for t in tags):
        problems.append((("body", "tags"), "at most 40 tags of at most 50 characters", "value"))
    target = fields.get("storage_target") or "default"
    if target not in ("default", "custom"):
        problems.append(
            (("body", "storage_target"), "must match '^(default|custom)$'", "string_pattern")
        )
    intent = fields.get("intent") or "describe"
    if intent not in ("describe", "verify", "rules"):
        problems.append((("body", "intent"), "must be describe, verify or rules", "enum"))
    if problems:
        raise ValidationFailed(problems)
    return {
        "title": title,
        "tags": tags,
        "storage_target": target,
        "auto_describe": _bool_field(fields, "auto_describe", True),
        "skip_duplicates": _bool_field(fields, "skip_duplicates", False),
    }


def _object_key(ctx: AionContext, filename: str) -> str:
    safe = _SAFE_NAME.sub("_", filename).strip("._") or "file"
    return f"uploads/{ctx.config.tenant_id}/{uuid.uuid4()}/{safe[:200]}"


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise invalid(("body",), "JSON decode error", "json_invalid") from None
    if not isinstance(body, dict):
        raise invalid(("body",), "Input should be a valid dictionary", "dict_type")
    return body


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_quota(ctx: AionContext) -> str | None:
    quota = ctx.config.quota
    if quota is not None and ctx.workspace.usage >= quota:
        return f"Monthly upload quota of {quota} files is used up"
    return None


def _streaming_guard(request: web.Request, ctx: AionContext) -> int:
    """501 when streaming is off, 429 when the tenant's streaming memory is exhausted;
    otherwise the bytes booked (release them with :func:`_release`)."""
    if not ctx.config.streaming_enabled:
        raise AionError(501, "NOT_IMPLEMENTED", "Streaming uploads are not enabled")
    booked = request.content_length or 0
    workspace = ctx.workspace
    if workspace.streaming_in_flight + booked > ctx.config.tenant_memory_limit:
        raise AionError(
            429,
            "MEMORY_LIMIT_EXCEEDED",
            "Too many streaming bytes in flight for this workspace; retry later",
            retry_after=1,
        )
    workspace.streaming_in_flight += booked
    return booked


def _release(ctx: AionContext, booked: int) -> None:
    ctx.workspace.streaming_in_flight -= booked


def _file_body(stored: StoredFile, *, now: float, skipped_of: str | None = None) -> dict:
    """The per-file fields shared by stream answers and immediate results."""
    body: dict[str, Any] = {
        "image_id": stored.image_id,
        "object_key": stored.object_key,
        "status": "skipped"
        if skipped_of
        else ("completed" if now >= stored.ready_at else "processing"),
        "skipped": skipped_of is not None,
        "skipped_existing_image_id": skipped_of,
        "storage_target": "default",
        "media_type": stored.media_type,
    }
    if stored.media_type == "document":
        body["document_type"] = DOCUMENT_TYPES.get(stored.content_type)
        body["text_extraction_status"] = "completed" if now >= stored.ready_at else "pending"
    return body


# -- one file --------------------------------------------------------------------------


async def stream_upload(request: web.Request) -> web.Response:
    ctx = context_of(request)
    started = time.monotonic()
    booked = _streaming_guard(request, ctx)
    try:
        files, fields = await _read_multipart(request, ctx, "file", max_files=1)
    finally:
        _release(ctx, booked)
    if not files:
        raise invalid(("body", "file"), "Field required", "missing")
    received = files[0]
    try:
        options = _common_fields(fields)
        if received.too_large:
            raise AionError(
                413,
                "FILE_TOO_LARGE",
                f"File is {received.size} bytes; streaming uploads take at most "
                f"{ctx.config.stream_limit} bytes (use a presigned upload)",
            )
        content_type = content_type_of(received.filename)
        if content_type is None:
            raise AionError(
                400,
                "VALIDATION_ERROR",
                "Unsupported file format; use JPEG, PNG, WebP, GIF, PDF, DOCX, TXT or MD",
                {"field": "file", "filename": received.filename},
            )
        workspace = ctx.workspace
        existing = workspace.by_hash.get(received.sha256)
        now = time.time()
        if options["skip_duplicates"] and existing is not None:
            body = _file_body(workspace.files[existing], now=now, skipped_of=existing)
        else:
            problem = _check_quota(ctx)
            if problem:
                raise AionError(402, "USAGE_LIMIT_EXCEEDED", problem)
            delay = ctx.config.processing_delay if options["auto_describe"] else 0.0
            stored = workspace.store(
                received.path,
                filename=received.filename,
                object_key=_object_key(ctx, received.filename),
                sha256=received.sha256,
                size=received.size,
                content_type=content_type,
                upload_method="STREAMING",
                ready_at=now + delay,
                title=options["title"],
                tags=options["tags"],
            )
            body = _file_body(stored, now=now)
    finally:
        received.path.unlink(missing_ok=True)
    body.update(
        upload_method="STREAMING",
        processing_time_ms=round((time.monotonic() - started) * 1000, 3),
        s3_upload_completed=not body["skipped"],
        variants_queued=not body["skipped"],
        description_queued=bool(options["auto_describe"]) and not body["skipped"],
        storage_target=options["storage_target"],
    )
    return web.json_response(body)


# -- many files ------------------------------------------------------------------------


async def stream_batch(request: web.Request) -> web.Response:
    ctx = context_of(request)
    booked = _streaming_guard(request, ctx)
    try:
        files, fields = await _read_multipart(
            request, ctx, "files", max_files=ctx.config.files_per_batch
        )
    finally:
        _release(ctx, booked)
    try:
        if not files:
            raise invalid(("body", "files"), "Field required", "missing")
        options = _common_fields(fields)
        session_id = str(uuid.uuid4())
        now = time.time()
        delay = ctx.config.processing_delay if options["auto_describe"] else 0.0
        rejections: list[dict[str, Any]] = []
        accepted: list[SessionFile] = []
        stored_now: list[tuple[StoredFile, str | None]] = []
        for index, received in enumerate(files):
            reason, retryable = _batch_refusal(ctx, received, options["skip_duplicates"])
            if reason is not None:
                rejections.append(
                    {
                        "filename": received.filename,
                        "index": index,
                        "reason": reason,
                        "retryable": retryable,
                    }
                )
                continue
            workspace = ctx.workspace
            existing = workspace.by_hash.get(received.sha256)
            ready_at = now + delay * (len(accepted) + 1)
            if options["skip_duplicates"] and existing is not None:
                stored = workspace.files[existing]
                item = SessionFile(
                    index, received.filename, existing, stored.object_key, "skipped", ready_at
                )
                item.skipped_existing_image_id = existing
                stored_now.append((stored, existing))
            else:
                stored = workspace.store(
                    received.path,
                    filename=received.filename,
                    object_key=_object_key(ctx, received.filename),
                    sha256=received.sha256,
                    size=received.size,
                    content_type=content_type_of(received.filename) or "",
                    upload_method="STREAMING",
                    ready_at=ready_at,
                    tags=options["tags"],
                )
                item = SessionFile(
                    index,
                    received.filename,
                    stored.image_id,
                    stored.object_key,
                    "completed",
                    ready_at,
                )
                stored_now.append((stored, None))
            item.processing_ms = delay * 1000
            accepted.append(item)
    finally:
        for received in files:
            received.path.unlink(missing_ok=True)
    if accepted:
        ctx.workspace.sessions[session_id] = Session(session_id, accepted, created_at=now)
    status = (
        "rejected"
        if not accepted
        else "partial"
        if rejections
        else ("completed" if delay == 0 else "processing")
    )
    body: dict[str, Any] = {
        "session_id": session_id,
        "total_files": len(files),
        "accepted_files": len(accepted),
        "rejected_files": len(rejections),
        "status": status,
        "status_url": f"{API_PREFIX}/uploads/sessions/{session_id}/status",
        "websocket_channel": f"batch.{session_id}",
        "rejections": rejections,
    }
    if len(files) <= 5:
        results = []
        for (stored, skipped_of), item in zip(stored_now, accepted, strict=True):
            result = _file_body(stored, now=now, skipped_of=skipped_of)
            result["filename"] = item.filename
            results.append(result)
        body["immediate_results"] = results
    return web.json_response(body)


def _batch_refusal(
    ctx: AionContext, received: Received, skip_duplicates: bool
) -> tuple[str | None, bool]:
    """Why one file of a batch is rejected (and whether a retry may succeed), or None."""
    if received.too_large:
        return f"File is over the {ctx.config.stream_limit}-byte streaming limit", False
    if content_type_of(received.filename) is None:
        return "Unsupported file format", False
    if ctx.faults.pick(BATCH_FILE_ROUTE) is not None:
        return "Temporary storage error; retry this file", True
    problem = _check_quota(ctx)
    if problem and not (skip_duplicates and received.sha256 in ctx.workspace.by_hash):
        return problem, False  # a skipped duplicate does not count against the quota
    return None, False


def _session(ctx: AionContext, request: web.Request) -> Session:
    session_id = request.match_info["session_id"]
    try:
        uuid.UUID(session_id)
    except ValueError:
        raise invalid(
            ("path", "session_id"), "Input should be a valid UUID", "uuid_parsing"
        ) from None
    session = ctx.workspace.sessions.get(session_id)
    if session is None:
        raise AionError(404, "NOT_FOUND", f"Upload session {session_id} not found")
    return session


def _session_body(session: Session, now: float) -> dict[str, Any]:
    counts = session.counts(now)
    total = len(session.files)
    done = total - counts["processing"]
    status = session.status(now)
    finished = sorted(
        (f for f in session.files if f.status(now) != "processing"), key=lambda f: f.ready_at
    )
    body: dict[str, Any] = {
        "session_id": session.session_id,
        "status": status,
        "total_files": total,
        "completed_files": counts["completed"],
        "failed_files": counts["failed"],
        "skipped_files": counts["skipped"],
        "pending_files": counts["processing"],
        "progress_percentage": round(100.0 * done / total, 1) if total else 100.0,
        "created_at": now_iso(session.created_at),
        "started_at": now_iso(session.created_at),
        "results_url": f"{API_PREFIX}/uploads/sessions/{session.session_id}/results",
        "websocket_channel": f"batch.{session.session_id}",
        "recent_completions": [
            {
                "filename": f.filename,
                "image_id": f.image_id,
                "status": f.status(now),
                "description": None,
                "processing_time_ms": f.processing_ms,
                "error_message": f.error,
            }
            for f in finished[-5:]
            if f.status(now) != "failed"
        ],
        "recent_errors": [
            {"filename": f.filename, "index": f.index, "error": f.error, "retryable": False}
            for f in finished[-5:]
            if f.status(now) == "failed"
        ],
    }
    if status in SESSION_TERMINAL:
        body["completed_at"] = now_iso(session.cancelled_at or session.finished_at())
    else:
        body["estimated_completion_time"] = now_iso(session.finished_at())
    return body


async def session_status(request: web.Request) -> web.Response:
    ctx = context_of(request)
    return web.json_response(_session_body(_session(ctx, request), time.time()))


async def session_results(request: web.Request) -> web.Response:
    ctx = context_of(request)
    session = _session(ctx, request)
    query = request.query
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    values = {}
    for name, default, low, high in (("offset", 0, 0, None), ("limit", 100, 1, 500)):
        raw = query.get(name, str(default))
        try:
            values[name] = int(raw)
        except ValueError:
            problems.append((("query", name), "Input should be a valid integer", "int_parsing"))
            continue
        if values[name] < low or (high is not None and values[name] > high):
            problems.append((("query", name), f"must be between {low} and {high}", "range"))
    if problems:
        raise ValidationFailed(problems)
    include_failed = query.get("include_failed", "true").lower() != "false"
    now = time.time()
    finished = [f for f in session.files if f.status(now) != "processing"]
    shown = [f for f in finished if include_failed or f.status(now) != "failed"]
    page = shown[values["offset"] : values["offset"] + values["limit"]]
    counts = session.counts(now)
    body = {
        "session_id": session.session_id,
        "results": [
            {
                "image_id": f.image_id,
                "filename": f.filename,
                "object_key": f.object_key,
                "status": f.status(now),
                "created_at": now_iso(session.created_at),
                "processing_time_ms": f.processing_ms,
                "error_message": f.error,
                "skipped_existing_image_id": f.skipped_existing_image_id,
                "tags": [],
            }
            for f in page
        ],
        "total_count": len(shown),
        "offset": values["offset"],
        "limit": values["limit"],
        "has_more": values["offset"] + len(page) < len(shown),
        "summary": {
            "total_files": len(session.files),
            "completed": counts["completed"],
            "failed": counts["failed"],
            "skipped": counts["skipped"],
        },
    }
    return web.json_response(body)


async def session_cancel(request: web.Request) -> web.Response:
    """Stop the files still processing (they fail as cancelled and their credits are
    refunded); finished results stay."""
    ctx = context_of(request)
    session = _session(ctx, request)
    now = time.time()
    if session.status(now) in SESSION_TERMINAL:
        raise AionError(
            400, "VALIDATION_ERROR", f"Session is {session.status(now)} and cannot be cancelled"
        )
    for item in session.files:
        if item.status(now) == "processing":
            if item.outcome == "completed":
                ctx.workspace.remove(item.image_id)
            item.outcome, item.error, item.ready_at = "failed", "cancelled", now
    session.cancelled_at = now
    return web.json_response(_session_body(session, now))


# -- checks ----------------------------------------------------------------------------


async def quota_check(request: web.Request) -> web.Response:
    ctx = context_of(request)
    raw = request.query.get("file_count")
    if raw is None:
        raise invalid(("query", "file_count"), "Field required", "missing")
    try:
        count = int(raw)
    except ValueError:
        raise invalid(
            ("query", "file_count"), "Input should be a valid integer", "int_parsing"
        ) from None
    if count < 1:
        raise invalid(("query", "file_count"), "Input should be greater than 0", "greater_than")
    quota = ctx.config.quota
    usage = ctx.workspace.usage
    available = (quota - usage) if quota is not None else 2**31 - 1
    can_proceed = available >= count
    tier = ctx.config.tier_limits
    return web.json_response(
        {
            "can_proceed": can_proceed,
            "requested": count,
            "available": max(available, 0),
            "monthly_limit": quota if quota is not None else -1,
            "current_usage": usage,
            "message": None
            if can_proceed
            else f"Only {max(available, 0)} uploads left this month; {count} requested",
            "prepaid_credits": 0,
            "max_batch_size": ctx.config.files_per_batch,
            "max_concurrent_uploads": tier.batch_size,
        }
    )


async def check_duplicates(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await _json_body(request)
    hashes = body.get("hashes")
    if not isinstance(hashes, list) or not 1 <= len(hashes) <= 250:
        raise invalid(("body", "hashes"), "List should have 1 to 250 items", "too_long")
    problems = [
        (("body", "hashes", i), "must be a SHA-256 hex digest", "string_pattern")
        for i, h in enumerate(hashes)
        if not isinstance(h, str) or not _SHA256.fullmatch(h.lower())
    ]
    if problems:
        raise ValidationFailed(problems)
    stored = ctx.workspace.by_hash
    duplicates = [h for h in hashes if h.lower() in stored]
    unique = [h for h in hashes if h.lower() not in stored]
    return web.json_response({"duplicates": duplicates, "unique": unique})


# -- presigned -------------------------------------------------------------------------


async def request_presigned_url(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await _json_body(request)
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    filename, content_type, size = (
        body.get("filename"),
        body.get("content_type"),
        body.get("size_bytes"),
    )
    if not isinstance(filename, str) or not filename:
        problems.append((("body", "filename"), "Field required (a non-empty string)", "missing"))
    if not isinstance(content_type, str) or not content_type:
        problems.append((("body", "content_type"), "Field required (a MIME type)", "missing"))
    if not _is_int(size) or size <= 0:
        problems.append((("body", "size_bytes"), "Input should be greater than 0", "greater_than"))
    target = body.get("storage_target") or "default"
    if target not in ("default", "custom"):
        problems.append(
            (("body", "storage_target"), "must match '^(default|custom)$'", "string_pattern")
        )
    key = body.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        problems.append((("body", "idempotency_key"), "must be a string", "string_type"))
    if problems:
        raise ValidationFailed(problems)
    if content_type not in MIME_TYPES:
        raise AionError(
            400,
            "VALIDATION_ERROR",
            f"Unsupported content type {content_type!r}",
            {"field": "content_type", "allowed": sorted(MIME_TYPES)},
        )
    if size > ctx.config.presigned_max_size:
        raise AionError(
            413,
            "FILE_TOO_LARGE",
            f"File is {size} bytes; presigned uploads take at most "
            f"{ctx.config.presigned_max_size} bytes",
        )
    workspace = ctx.workspace
    fingerprint = (filename, content_type, size, target)
    reservation = None
    if key is not None and key in workspace.idempotency:
        reservation = workspace.reservations[workspace.idempotency[key]]
        if reservation.fingerprint != fingerprint:
            raise AionError(
                409,
                "CONFLICT",
                "idempotency_key was used with a different request body",
                {"field": "idempotency_key"},
            )
        if reservation.confirmed_id is not None:
            raise AionError(409, "CONFLICT", "This upload was already confirmed")
    if reservation is None:
        object_key = _object_key(ctx, filename)
        reservation = Reservation(object_key, filename, content_type, size, target, fingerprint)
        workspace.reservations[object_key] = reservation
        ctx.storage.reserve(object_key, size)
        if key is not None:
            workspace.idempotency[key] = object_key
    url, expiry = ctx.storage.presign_put(
        reservation.object_key, url_origin(request), ctx.config.url_lifetime
    )
    return web.json_response(
        {
            "upload_url": url,
            "upload_method": "PUT",
            "object_key": reservation.object_key,
            "expires_at": now_iso(expiry),
            "max_size_bytes": ctx.config.presigned_max_size,
            "upload_fields": None,
            "upload_headers": {"Content-Type": content_type},
            "storage_target": target,
        }
    )


async def confirm(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await _json_body(request)
    object_key, size, checksum = (
        body.get("object_key"),
        body.get("size_bytes"),
        body.get("checksum"),
    )
    problems: list[tuple[tuple[str | int, ...], str, str]] = []
    if not isinstance(object_key, str) or not object_key:
        problems.append((("body", "object_key"), "Field required", "missing"))
    if not _is_int(size) or size <= 0:
        problems.append((("body", "size_bytes"), "Input should be greater than 0", "greater_than"))
    if checksum is not None and not isinstance(checksum, str):
        problems.append((("body", "checksum"), "must be a string or null", "string_type"))
    if problems:
        raise ValidationFailed(problems)
    workspace = ctx.workspace
    reservation = workspace.reservations.get(object_key)
    if reservation is None:
        raise AionError(404, "NOT_FOUND", f"No presigned upload for object_key {object_key!r}")
    if reservation.confirmed_id is None:
        stored_object = ctx.storage.get(object_key)
        if stored_object is None:
            raise AionError(422, "VALIDATION_ERROR", "Nothing was uploaded to this object_key yet")
        if stored_object.size != size or size != reservation.size:
            raise AionError(
                422,
                "VALIDATION_ERROR",
                f"size_bytes {size} does not match the {stored_object.size} bytes stored",
            )
        sha256 = await asyncio.to_thread(_sha256_file, stored_object.path)
        if checksum is not None:
            given = checksum.strip().lower()
            md5 = stored_object.etag.strip('"')
            if not (
                (_SHA256.fullmatch(given) and given == sha256)
                or (_MD5.fullmatch(given) and given == md5)
            ):
                raise AionError(
                    422,
                    "VALIDATION_ERROR",
                    "checksum does not match the stored object (send the SHA-256 or MD5 hex)",
                    {"field": "checksum"},
                )
        problem = _check_quota(ctx)
        if problem:
            raise AionError(402, "USAGE_LIMIT_EXCEEDED", problem)
        ctx.storage.revoke(object_key)
        stored = workspace.store(
            stored_object.path,
            filename=reservation.filename,
            object_key=object_key,
            sha256=sha256,
            size=size,
            content_type=reservation.content_type,
            upload_method="PRESIGNED",
            ready_at=time.time() + ctx.config.processing_delay,
        )
        ctx.storage.release(object_key)
        reservation.confirmed_id = stored.image_id
    return web.json_response(
        {
            "upload_id": reservation.confirmed_id,
            "object_key": object_key,
            "storage_path": f"s3://aionvision-emulator/{object_key}",
            "confirmed": True,
        }
    )


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as blob:
        while chunk := blob.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
