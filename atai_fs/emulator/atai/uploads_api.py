"""Direct-to-cloud upload control plane: initiate, part URLs, checkpoint, complete, abort."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .config import API_PREFIX, MAX_PARTS
from .context import EmulatorContext, context_of
from .errors import ApiError, ErrorDetail, bad_request, conflict
from .file_index import FILE_STATUS_CORRUPT, FILE_STATUS_INGESTED, new_file_uid
from .files_api import NOT_EXTRACTED, publish_record
from .params import is_int, name_problem, raise_if_any, read_json_object
from .state import ABORTED, COMPLETED, Upload, choose_part_size, new_upload_id
from .upload_checks import (
    changing_upload,
    check_part_number,
    file_type_problem,
    live_upload,
    num_bytes_problem,
    read_checksum,
    read_part_tokens,
)

_UPLOADS = API_PREFIX + "/files/uploads"


def add_routes(app: web.Application) -> None:
    app.router.add_post(_UPLOADS + "/initiate", initiate, name="initiate")
    app.router.add_post(_UPLOADS + "/{upload_id}/parts/urls", parts_urls, name="parts_urls")
    app.router.add_post(_UPLOADS + "/{upload_id}/parts/checkpoint", checkpoint, name="checkpoint")
    app.router.add_post(_UPLOADS + "/{upload_id}/complete", complete, name="complete")
    app.router.add_post(_UPLOADS + "/{upload_id}/abort", abort, name="abort")


# -- handlers ------------------------------------------------------------------------
async def initiate(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await ctx.collect_abandoned()
    body = await read_json_object(request)
    filename, file_type, num_bytes = (
        body.get("filename"),
        body.get("file_type"),
        body.get("num_bytes"),
    )
    resume = body.get("resume_if_started", False)
    raise_if_any(
        [
            name_problem(filename, "filename"),
            file_type_problem(file_type),
            num_bytes_problem(num_bytes, ctx.config.max_file_size),
            None
            if isinstance(resume, bool)
            else ErrorDetail("invalid_parameter", "'resume_if_started' must be a boolean"),
        ]
    )
    # What the checks above let through:
    assert isinstance(filename, str) and isinstance(file_type, str) and is_int(num_bytes)
    existing = ctx.uploads.latest_in_progress(filename) if resume else None
    if existing is not None and not existing.completing:
        if (existing.file_type, existing.num_bytes) != (file_type, num_bytes):
            raise conflict(
                "upload_mismatch",
                f"An upload of {filename!r} is in progress with file_type "
                f"{existing.file_type!r} and num_bytes {existing.num_bytes}",
                "Abort it, or initiate with matching file_type and num_bytes",
            )
        existing.last_activity = ctx.config.clock()
        todo = [n for n in existing.part_numbers if n not in existing.checkpoints]
        return web.json_response(_initiate_body(ctx, request, existing, todo, is_resume=True))

    upload = Upload(
        upload_id=new_upload_id(),
        file_uid=new_file_uid(),
        filename=filename,
        file_type=file_type,
        num_bytes=num_bytes,
        part_size=choose_part_size(num_bytes, ctx.config.part_size),
        part_number_base=ctx.config.part_number_base,
        last_activity=ctx.config.clock(),
    )
    await ctx.backend.begin(upload)
    ctx.uploads.add(upload)
    body = _initiate_body(ctx, request, upload, list(upload.part_numbers), is_resume=False)
    return web.json_response(body)


async def parts_urls(request: web.Request) -> web.Response:
    ctx = context_of(request)
    upload = await live_upload(ctx, request)
    body = await read_json_object(request)
    numbers = body.get("part_numbers")
    if numbers is None:
        raise bad_request("missing_parameter", "'part_numbers' is required")
    if not isinstance(numbers, list):
        raise bad_request("invalid_parameter", "'part_numbers' must be an array of integers")
    if len(numbers) > MAX_PARTS:
        # Duplicates are allowed (each gets an entry), so bound the answer by its length.
        raise bad_request(
            "invalid_parameter",
            f"'part_numbers' lists {len(numbers)} entries; at most {MAX_PARTS} per request",
            "Ask for each part once, in requests of at most 10,000 part numbers",
        )
    for n in numbers:
        check_part_number(upload, n)
    # One expiry per request, so duplicates in the request share one URL.
    issued = {n: _descriptor(ctx, request, upload, n) for n in dict.fromkeys(numbers)}
    return web.json_response({"parts": [issued[n] for n in numbers]})


async def checkpoint(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await read_json_object(request)
    async with changing_upload(ctx, request) as upload:
        tokens = read_part_tokens(upload, body, field="parts", required=True)
        await ctx.backend.check_tokens(upload, tokens)
        changed = [n for n, token in tokens.items() if upload.checkpoints.get(n) != token]
        upload.checkpoints.update(tokens)
    return web.json_response({"num_checkpointed": len(changed)})


async def complete(request: web.Request) -> web.Response:
    """Held from its body's first byte to the file's registration: an abort or
    checkpoint arriving meanwhile waits, then finds the upload completed (or, when the
    complete was refused, still open)."""
    ctx = context_of(request)
    async with changing_upload(ctx, request) as upload:
        upload.completing = True
        try:
            return await _complete(ctx, request, upload)
        finally:
            upload.completing = False


async def _complete(ctx: EmulatorContext, request: web.Request, upload: Upload) -> web.Response:
    body = await read_json_object(request)
    tokens = {**upload.checkpoints, **read_part_tokens(upload, body, field="parts", required=True)}
    expected_crc = read_checksum(ctx, body.get("integrity_checksum"))
    missing = [n for n in upload.part_numbers if n not in tokens]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise bad_request(
            "missing_parts",
            f"{len(missing)} of {upload.num_parts} parts are neither checkpointed nor listed: "
            f"{shown}",
            "Upload and list every part (or checkpoint it) before completing",
        )

    try:
        actual_crc = await ctx.backend.publish(upload, tokens, expected_crc is not None)
    except ApiError:
        raise  # refused as sent: the upload stays open for the client to fix
    except BaseException:
        ctx.uploads.set_state(upload, ABORTED)
        await ctx.backend.discard(upload)
        raise
    corrupt = expected_crc is not None and actual_crc != expected_crc
    if expected_crc is not None and not corrupt:
        ctx.stats.count_checksum_verified()
    ctx.uploads.set_state(upload, COMPLETED)
    await publish_record(
        ctx,
        file_id=upload.filename,
        file_uid=upload.file_uid,
        file_type=upload.file_type,
        num_bytes=upload.num_bytes,
        file_status=FILE_STATUS_CORRUPT if corrupt else FILE_STATUS_INGESTED,
    )
    if corrupt:
        raise bad_request(
            "checksum_mismatch",
            f"integrity_checksum does not match the stored object; {upload.filename!r} is "
            "marked FILE_STATUS_CORRUPT",
            "Upload the file again",
        )
    return web.json_response(
        {
            "file_uid": upload.file_uid,
            "file_name": upload.filename,
            "num_bytes": upload.num_bytes,
            "file_status": "Registered",
            "file_attributes": dict(NOT_EXTRACTED),
        }
    )


async def abort(request: web.Request) -> web.Response:
    ctx = context_of(request)
    await request.read()  # any body (none, or the SDK's {}) is accepted and ignored
    async with changing_upload(ctx, request) as upload:
        ctx.uploads.set_state(upload, ABORTED)
        await ctx.backend.discard(upload)
    return web.Response(status=200)


# -- answers ---------------------------------------------------------------------------
def _descriptor(
    ctx: EmulatorContext, request: web.Request, upload: Upload, n: int
) -> dict[str, Any]:
    offset, length = upload.part_range(n)
    url, expiry = ctx.backend.part_url(upload, n, ctx.origin(request), ctx.config.url_lifetime)
    return {
        "part_number": n,
        "url": url,
        "offset": offset,
        "length": length,
        "expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry)),
    }


def _initiate_body(
    ctx: EmulatorContext,
    request: web.Request,
    upload: Upload,
    part_numbers: list[int],
    *,
    is_resume: bool,
) -> dict[str, Any]:
    return {
        "upload_id": upload.upload_id,
        "file_uid": upload.file_uid,
        "file_name": upload.filename,
        "total_bytes": upload.num_bytes,
        "num_parts": upload.num_parts,
        "part_size": upload.part_size,
        "is_resume": is_resume,
        "integrity_algorithm": ctx.config.integrity_algorithm,
        "parts": [_descriptor(ctx, request, upload, n) for n in part_numbers],
    }
