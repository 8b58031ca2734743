"""Batch sessions: status, results (paged) and cancel."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .config import API_PREFIX
from .context import AionContext, context_of
from .errors import AionError
from .state import SESSION_TERMINAL, Session, now_iso
from .validation import Problems, uuid_in_path


def _session(ctx: AionContext, request: web.Request) -> Session:
    session_id = uuid_in_path(request, "session_id")
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
    return web.json_response(_session_body(_session(ctx, request), ctx.config.now()))


async def session_results(request: web.Request) -> web.Response:
    ctx = context_of(request)
    session = _session(ctx, request)
    query = request.query
    problems = Problems()
    values: dict[str, int] = {}
    for name, default, low, high in (("offset", 0, 0, None), ("limit", 100, 1, 500)):
        raw = query.get(name, str(default))
        try:
            values[name] = int(raw)
        except ValueError:
            problems.add(("query", name), "Input should be a valid integer", "int_parsing")
            continue
        if values[name] < low or (high is not None and values[name] > high):
            problems.add(("query", name), f"must be between {low} and {high}", "range")
    problems.raise_if_any()
    include_failed = query.get("include_failed", "true").lower() != "false"
    now = ctx.config.now()
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
    refunded); finished results stay.  A presigned batch's files not yet confirmed
    fail too, and their upload URLs stop working."""
    ctx = context_of(request)
    session = _session(ctx, request)
    now = ctx.config.now()
    if session.status(now) in SESSION_TERMINAL:
        raise AionError(
            400, "VALIDATION_ERROR", f"Session is {session.status(now)} and cannot be cancelled"
        )
    for item in session.files:
        if item.status(now) == "processing":
            if item.outcome == "completed":
                ctx.workspace.remove(item.image_id, now)
            item.outcome, item.error, item.ready_at = "failed", "cancelled", now
    batch = ctx.workspace.batches.get(session.session_id)
    for entry in batch.entries if batch is not None else ():
        if not (entry.confirmed or entry.failed):
            entry.failed = True
            ctx.storage.revoke(entry.reservation.object_key)
            ctx.storage.release(entry.reservation.object_key)
    session.cancelled_at = now
    return web.json_response(_session_body(session, now))
