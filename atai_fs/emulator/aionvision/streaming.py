"""Stream uploads: one file (``upload/stream``) or a batch (``upload/stream-batch``) in
one multipart request, stored at once and "processed" over ``processing_delay``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from .checks import quota_problem
from .config import API_PREFIX
from .context import AionContext, context_of
from .errors import AionError, invalid
from .faults import BATCH_FILE_ROUTE
from .formats import DOCUMENT_TYPES, content_type_of
from .multipart import Received, read_multipart
from .state import Session, SessionFile, StoredFile
from .status import processing_failure
from .validation import UploadOptions, new_object_key


async def stream_upload(request: web.Request) -> web.Response:
    ctx = context_of(request)
    started = time.monotonic()
    with _streaming_memory(request, ctx):
        files, fields = await read_multipart(request, ctx, "file", max_files=1)
    if not files:
        raise invalid(("body", "file"), "Field required", "missing")
    received = files[0]
    try:
        options = UploadOptions.from_fields(fields)
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
        now = ctx.config.now()
        if options.skip_duplicates and existing is not None:
            body = _file_body(workspace.files[existing], now=now, skipped_of=existing)
        else:
            problem = quota_problem(ctx)
            if problem:
                raise AionError(402, "USAGE_LIMIT_EXCEEDED", problem)
            delay = ctx.config.processing_delay if options.auto_describe else 0.0
            stored = _store(ctx, received, content_type, now, now + delay, options, options.title)
            body = _file_body(stored, now=now)
    finally:
        received.path.unlink(missing_ok=True)
    body.update(
        upload_method="STREAMING",
        processing_time_ms=round((time.monotonic() - started) * 1000, 3),
        s3_upload_completed=not body["skipped"],
        variants_queued=not body["skipped"],
        description_queued=bool(options.auto_describe) and not body["skipped"],
        storage_target=options.storage_target,
    )
    return web.json_response(body)


async def stream_batch(request: web.Request) -> web.Response:
    ctx = context_of(request)
    with _streaming_memory(request, ctx):
        files, fields = await read_multipart(
            request, ctx, "files", max_files=ctx.config.files_per_batch
        )
    try:
        if not files:
            raise invalid(("body", "files"), "Field required", "missing")
        options = UploadOptions.from_fields(fields)
        session_id = str(uuid.uuid4())
        now = ctx.config.now()
        delay = ctx.config.processing_delay if options.auto_describe else 0.0
        rejections: list[dict[str, Any]] = []
        accepted: list[SessionFile] = []
        stored_now: list[tuple[StoredFile, str | None]] = []
        for index, received in enumerate(files):
            reason, retryable = _batch_refusal(ctx, received, options.skip_duplicates)
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
            if options.skip_duplicates and existing is not None:
                stored = workspace.files[existing]
                item = SessionFile(
                    index, received.filename, existing, stored.object_key, "skipped", ready_at
                )
                item.skipped_existing_image_id = existing
                stored_now.append((stored, existing))
            else:
                content_type = content_type_of(received.filename) or ""
                stored = _store(ctx, received, content_type, now, ready_at, options, title=None)
                item = SessionFile(
                    index,
                    received.filename,
                    stored.image_id,
                    stored.object_key,
                    "failed" if stored.processing_error else "completed",
                    ready_at,
                    error=stored.processing_error,
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
    problem = quota_problem(ctx)
    if problem and not (skip_duplicates and received.sha256 in ctx.workspace.by_hash):
        return problem, False  # a skipped duplicate does not count against the quota
    return None, False


def _store(
    ctx: AionContext,
    received: Received,
    content_type: str,
    now: float,
    ready_at: float,
    options: UploadOptions,
    title: str | None,
) -> StoredFile:
    """Keep a streamed file (its spooled copy moves in) and count it against the quota."""
    return ctx.workspace.store(
        received.path,
        filename=received.filename,
        object_key=new_object_key(ctx.config.tenant_id, received.filename),
        sha256=received.sha256,
        size=received.size,
        content_type=content_type,
        upload_method="STREAMING",
        now=now,
        ready_at=ready_at,
        title=title,
        tags=options.tags,
        processing_error=processing_failure(ctx),
    )


@contextmanager
def _streaming_memory(request: web.Request, ctx: AionContext) -> Iterator[None]:
    """Book the body's ``Content-Length`` against the tenant's streaming memory while it
    is read: 501 when streaming is off, 429 when the booking would not fit."""
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
    try:
        yield
    finally:
        workspace.streaming_in_flight -= booked


def _file_body(stored: StoredFile, *, now: float, skipped_of: str | None = None) -> dict[str, Any]:
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
