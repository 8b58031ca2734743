"""Presigned batches: ``batch-prepare`` (up to 5 signed PUT URLs and an upload plan),
``batch-confirm`` (one confirmation per file) and the batch's status.

A batch is also an upload session under its batch id (``sessions/{batch_id}/status``,
``results``, ``cancel``): its files are pending until confirmed, then processing.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from aiohttp import web

from .context import AionContext, context_of
from .errors import AionError, invalid
from .presigned import confirm_reservation, file_info, presigned_url, reserve
from .state import Batch, BatchEntry, ImageStatus, Session, SessionFile, now_iso
from .validation import Problems, json_body, uuid_in_path

MAX_BATCH_FILES = 5
_INTENTS = ("describe", "verify", "rules", "document_extraction")
_LEVELS = ("quick", "standard", "thorough", "critical")
_COUNTS = (
    "total",
    "uploading",
    "confirming",
    "queued",
    "processing",
    "completed",
    "failed",
    "partially_completed",
    "stuck",
)


async def batch_prepare(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await json_body(request)
    problems = Problems()
    files = body.get("files")
    if not isinstance(files, list) or not 1 <= len(files) <= MAX_BATCH_FILES:
        problems.add(("body", "files"), f"List should have 1 to {MAX_BATCH_FILES} items", "length")
        files = []
    wanted = []
    for index, item in enumerate(files):
        if not isinstance(item, dict):
            problems.add(("body", "files", index), "Input should be an object", "dict_type")
            continue
        where = Problems()
        wanted.append(file_info(where, item))
        for loc, msg, kind in where.found:
            problems.add(("body", "files", index, *loc[1:]), msg, kind)
    intent = body.get("intent")
    if intent not in _INTENTS:
        problems.add(("body", "intent"), f"Field required, one of {'|'.join(_INTENTS)}", "missing")
    level = body.get("verification_level") or "standard"
    if level not in _LEVELS:
        problems.add(("body", "verification_level"), f"must be one of {_LEVELS}", "string_pattern")
    problems.raise_if_any()
    now = ctx.config.now()
    batch_id = str(uuid.uuid4())
    entries = []
    for index, (filename, content_type, size, target, key) in enumerate(wanted):
        reservation = reserve(ctx, filename, content_type, size, target, key, batch_id=batch_id)
        if reservation.image_id is None:
            reservation.image_id = str(uuid.uuid4())
        # Pending until confirmed: "processing" in the session, never ready before that.
        item = SessionFile(
            index, filename, reservation.image_id, reservation.object_key, "completed", math.inf
        )
        entries.append(BatchEntry(reservation, item))
        ctx.workspace.images[reservation.image_id] = ImageStatus(
            reservation.image_id, now, batch_id
        )
    workspace = ctx.workspace
    workspace.batches[batch_id] = Batch(batch_id, str(intent), entries, now, now)
    workspace.sessions[batch_id] = Session(
        batch_id, [e.item for e in entries], created_at=now, upload_method="presigned"
    )
    total = sum(e.reservation.size for e in entries)
    urls = []
    for index, entry in enumerate(entries):
        url = presigned_url(request, entry.reservation)
        url.update(file_index=index, filename=entry.reservation.filename)
        url["image_id"] = entry.reservation.image_id
        urls.append(url)
    config = ctx.config
    return web.json_response(
        {
            "batch_id": batch_id,
            "upload_plan": {
                "strategy": config.batch_strategy,
                "max_concurrent": config.batch_max_concurrent,
                "retry_policy": {"max_retries": 3, "backoff": "exponential"},
                "timeout_per_upload": config.upload_timeout,
            },
            "presigned_urls": urls,
            "total_size_bytes": total,
            "estimated_time_seconds": max(1, math.ceil(total / (10 * 2**20))),
        }
    )


def _batch(ctx: AionContext, batch_id: object, loc: tuple[str, ...]) -> Batch:
    if not isinstance(batch_id, str) or not batch_id:
        raise invalid(loc, "Field required", "missing")
    batch = ctx.workspace.batches.get(batch_id)
    if batch is None:
        raise AionError(404, "NOT_FOUND", f"Batch {batch_id} not found")
    return batch


async def batch_confirm(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await json_body(request)
    batch = _batch(ctx, body.get("batch_id"), ("body", "batch_id"))
    confirmations = body.get("confirmations")
    problems = Problems()
    if not isinstance(confirmations, list) or not confirmations:
        problems.add(("body", "confirmations"), "List should have at least 1 item", "too_short")
        confirmations = []
    checked = []
    for index, item in enumerate(confirmations):
        if not isinstance(item, dict):
            problems.add(("body", "confirmations", index), "Input should be an object", "dict_type")
            continue
        where = Problems()
        object_key = where.text(item, "object_key", "Field required")
        size = where.positive_int(item, "file_size")
        success = item.get("success")
        if not isinstance(success, bool):
            where.add(("body", "success"), "Input should be a valid boolean", "bool_type")
        for loc, msg, kind in where.found:
            problems.add(("body", "confirmations", index, *loc[1:]), msg, kind)
        checked.append((object_key, size, success, item))
    problems.raise_if_any()
    session = ctx.workspace.sessions[batch.batch_id]
    if session.cancelled_at is not None:
        raise AionError(400, "VALIDATION_ERROR", "The batch was cancelled; prepare a new one")
    by_key = {e.reservation.object_key: e for e in batch.entries}
    now = ctx.config.now()
    stored_images = []
    for object_key, size, success, item in checked:
        entry = by_key.get(object_key)
        if entry is None:
            raise AionError(
                422, "VALIDATION_ERROR", f"object_key {object_key!r} is not part of this batch"
            )
        if entry.confirmed or entry.failed:
            continue  # confirming again changes nothing (open point 3)
        error = None
        if success:
            checksum = item.get("checksum")
            try:
                stored = await confirm_reservation(
                    ctx, entry.reservation, size, checksum if isinstance(checksum, str) else None
                )
            except AionError as exc:
                error = exc.message
            else:
                entry.confirmed = True
                entry.item.ready_at = stored.ready_at
                if stored.processing_error:
                    entry.item.outcome, entry.item.error = "failed", stored.processing_error
        else:
            message = item.get("error_message")
            error = str(message) if message else "upload failed"
        if error is not None:
            entry.failed = True
            entry.item.outcome, entry.item.error, entry.item.ready_at = "failed", error, now
            ctx.workspace.images[entry.item.image_id].fail(error, now)
            ctx.storage.revoke(object_key)
            ctx.storage.release(object_key)
    batch.last_activity_at = now
    for entry in batch.entries:
        if entry.confirmed:
            stored_images.append(
                {
                    "image_id": entry.item.image_id,
                    "object_key": entry.reservation.object_key,
                    "filename": entry.reservation.filename,
                    "variant_status": "completed",
                    "created_at": now_iso(now),
                }
            )
    failed = [e.reservation.filename for e in batch.entries if e.failed]
    successful = sum(e.confirmed for e in batch.entries)
    status = "failed" if not successful else ("partial" if failed else "queued")
    return web.json_response(
        {
            "batch_id": batch.batch_id,
            "successful_uploads": successful,
            "failed_uploads": len(failed),
            "processing_status": status,
            "message": f"{successful} files queued for processing, {len(failed)} failed",
            "failed_files": failed,
            "stored_images": stored_images,
        }
    )


async def batch_status(request: web.Request) -> web.Response:
    ctx = context_of(request)
    batch = _batch(ctx, uuid_in_path(request, "batch_id"), ("path", "batch_id"))
    now = ctx.config.now()
    counts = dict.fromkeys(_COUNTS, 0)
    counts["total"] = len(batch.entries)
    messages = []
    for entry in batch.entries:
        status = ctx.workspace.images[entry.item.image_id]
        unified = status.unified(now)
        counts[unified] += 1
        confirmed = status.confirmed_at
        if unified == "processing" and confirmed is not None:
            counts["stuck"] += now - confirmed >= ctx.config.stuck_after
        if unified == "failed" and status.error:
            messages.append(f"{entry.reservation.filename}: {status.error}")
    done = counts["completed"] + counts["failed"]
    if counts["uploading"]:
        overall = "uploading"
    elif counts["processing"]:
        overall = "processing"
    elif counts["failed"] == counts["total"]:
        overall = "failed"
    elif counts["failed"]:
        overall = "partially_completed"
    else:
        overall = "completed"
    return web.json_response(
        {
            "batch_id": batch.batch_id,
            "tenant_id": ctx.config.tenant_id,
            "overall_status": overall,
            "completion_percentage": round(100.0 * done / counts["total"], 1),
            "counts": counts,
            "error_summary": {"count": len(messages), "messages": messages},
            "description_counts": _description_counts(counts),
            "created_at": now_iso(batch.created_at),
            "last_activity_at": now_iso(batch.last_activity_at),
        }
    )


def _description_counts(counts: dict[str, int]) -> dict[str, Any]:
    return {
        "pending": counts["uploading"],
        "processing": counts["processing"],
        "completed": counts["completed"],
        "failed": counts["failed"],
        "skipped": 0,
    }
