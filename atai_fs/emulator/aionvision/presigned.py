"""Presigned uploads: a signed storage PUT URL for one file, then its confirm."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web

from .._shared.storage import url_origin
from .checks import quota_problem
from .context import AionContext, context_of
from .errors import AionError
from .formats import MIME_TYPES
from .state import Reservation, StoredFile, now_iso
from .status import processing_failure
from .validation import MD5_HEX, SHA256_HEX, Problems, json_body, new_object_key

_CHUNK = 1 << 20


async def request_presigned_url(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await json_body(request)
    problems = Problems()
    wanted = file_info(problems, body)
    problems.raise_if_any()
    reservation = reserve(ctx, *wanted)
    return web.json_response(presigned_url(request, reservation))


def file_info(problems: Problems, body: dict[str, Any]) -> tuple[str, str, int, str, str | None]:
    """A ``FileInfo`` (filename, content_type, size_bytes, storage_target,
    idempotency_key), its problems added to ``problems``."""
    filename = problems.text(body, "filename", "Field required (a non-empty string)")
    content_type = problems.text(body, "content_type", "Field required (a MIME type)")
    size = problems.positive_int(body, "size_bytes")
    target = problems.storage_target(body.get("storage_target"))
    key = body.get("idempotency_key")
    if key is not None and not isinstance(key, str):
        problems.add(("body", "idempotency_key"), "must be a string", "string_type")
        key = None
    return filename, content_type, size, target, key


def reserve(
    ctx: AionContext,
    filename: str,
    content_type: str,
    size: int,
    target: str,
    key: str | None,
    *,
    batch_id: str | None = None,
) -> Reservation:
    """The reservation of one presigned upload: a new object key, or the one an earlier
    request with the same ``idempotency_key`` and body got (open point 4)."""
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
    fingerprint = (filename, content_type, size, target, batch_id is not None)
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
        return reservation
    object_key = new_object_key(ctx.config.tenant_id, filename)
    reservation = Reservation(
        object_key, filename, content_type, size, target, fingerprint, batch_id=batch_id
    )
    workspace.reservations[object_key] = reservation
    ctx.storage.reserve(object_key, size)
    if key is not None:
        workspace.idempotency[key] = object_key
    return reservation


def presigned_url(request: web.Request, reservation: Reservation) -> dict[str, Any]:
    """A fresh signed PUT URL of a reservation, as the API answers it."""
    ctx = context_of(request)
    url, expiry = ctx.storage.presign_put(
        reservation.object_key, url_origin(request), ctx.config.url_lifetime
    )
    return {
        "upload_url": url,
        "upload_method": "PUT",
        "object_key": reservation.object_key,
        "expires_at": now_iso(expiry),
        "max_size_bytes": ctx.config.presigned_max_size,
        "upload_fields": None,
        "upload_headers": {"Content-Type": reservation.content_type},
        "storage_target": reservation.storage_target,
    }


async def confirm(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await json_body(request)
    problems = Problems()
    object_key = problems.text(body, "object_key", "Field required")
    size = problems.positive_int(body, "size_bytes")
    checksum = body.get("checksum")
    if checksum is not None and not isinstance(checksum, str):
        problems.add(("body", "checksum"), "must be a string or null", "string_type")
    problems.raise_if_any()
    reservation = ctx.workspace.reservations.get(object_key)
    if reservation is None or reservation.batch_id is not None:
        raise AionError(404, "NOT_FOUND", f"No presigned upload for object_key {object_key!r}")
    if reservation.confirmed_id is None:
        await confirm_reservation(ctx, reservation, size, checksum)
    return web.json_response(
        {
            "upload_id": reservation.confirmed_id,
            "object_key": object_key,
            "storage_path": f"s3://aionvision-emulator/{object_key}",
            "confirmed": True,
        }
    )


async def confirm_reservation(
    ctx: AionContext, reservation: Reservation, size: int, checksum: str | None
) -> StoredFile:
    """Store the uploaded object of ``reservation`` as a new file, after checking its
    size, its checksum (SHA-256 or MD5 hex, open point 2) and the quota."""
    object_key = reservation.object_key
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
            (SHA256_HEX.fullmatch(given) and given == sha256)
            or (MD5_HEX.fullmatch(given) and given == md5)
        ):
            raise AionError(
                422,
                "VALIDATION_ERROR",
                "checksum does not match the stored object (send the SHA-256 or MD5 hex)",
                {"field": "checksum"},
            )
    problem = quota_problem(ctx)
    if problem:
        raise AionError(402, "USAGE_LIMIT_EXCEEDED", problem)
    ctx.storage.revoke(object_key)
    now = ctx.config.now()
    stored = ctx.workspace.store(
        stored_object.path,
        filename=reservation.filename,
        object_key=object_key,
        sha256=sha256,
        size=size,
        content_type=reservation.content_type,
        upload_method="PRESIGNED",
        now=now,
        ready_at=now + ctx.config.processing_delay,
        image_id=reservation.image_id,
        processing_error=processing_failure(ctx),
        batch_id=reservation.batch_id,
    )
    ctx.storage.release(object_key)
    reservation.confirmed_id = stored.image_id
    return stored


def _sha256_file(path: Path) -> str:
    """The SHA-256 hex of a stored object (in a worker thread: it may be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as blob:
        while chunk := blob.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
