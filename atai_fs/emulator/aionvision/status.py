"""Processing status of one image (``GET /uploads/status/{image_id}``), and the fault
that makes an image's processing fail."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .context import AionContext, context_of
from .errors import AionError
from .faults import PROCESSING_ROUTE
from .state import ImageStatus, now_iso
from .validation import uuid_in_path

_TERMINAL = frozenset({"completed", "failed"})


def processing_failure(ctx: AionContext) -> str | None:
    """Why the processing of a file stored now will fail: a ``reject`` fault on the
    ``processing`` pseudo-route, tried once per stored file; else None."""
    if ctx.faults.pick(PROCESSING_ROUTE) is not None:
        return "AI processing failed (image could not be decoded)"
    return None


def image_status_body(ctx: AionContext, status: ImageStatus, now: float) -> dict[str, Any]:
    """The status answer of one image (spec 3.10), as of ``now``."""
    unified = status.unified(now)
    processing = unified == "processing"
    confirmed = status.confirmed_at
    stuck = processing and confirmed is not None and now - confirmed >= ctx.config.stuck_after
    description = {"processing": "processing", "completed": "completed"}.get(unified, "pending")
    if unified == "failed":
        description = "failed"
    body: dict[str, Any] = {
        "image_id": status.image_id,
        "tenant_id": ctx.config.tenant_id,
        "unified_status": unified,
        "component_statuses": {
            "variant_status": "completed" if confirmed is not None else "pending",
            "description_status": description,
            "upload_intent_status": "completed" if confirmed is not None else "pending",
            "task_intent_status": None,
        },
        "batch_id": status.batch_id,
        "task_intent_ids": [],
        "error_message": status.error if unified == "failed" else None,
        "last_error_at": now_iso(status.ready_at) if unified == "failed" else None,
        "created_at": now_iso(status.created_at),
        "last_updated_at": now_iso(min(now, status.ready_at or now)),
        "completed_at": now_iso(status.ready_at) if unified in _TERMINAL else None,
        "retry_count": 0,
        "processing_duration_seconds": (
            round(min(now, status.ready_at or now) - confirmed, 3) if confirmed else None
        ),
        "is_stuck": stuck,
        "is_terminal": unified in _TERMINAL,
    }
    return body


async def image_status(request: web.Request) -> web.Response:
    ctx = context_of(request)
    image_id = uuid_in_path(request, "image_id")
    status = ctx.workspace.images.get(image_id)
    if status is None:
        raise AionError(404, "NOT_FOUND", f"Image {image_id} not found")
    return web.json_response(image_status_body(ctx, status, ctx.config.now()))
