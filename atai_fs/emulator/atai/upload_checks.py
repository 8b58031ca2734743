"""Checking what the upload control plane is sent: the upload named, initiate's fields,
part numbers and tokens, the integrity checksum (spec sections 4.8-4.13 and 5; open
points 2-13 of the package docstring)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from .context import EmulatorContext
from .errors import ErrorDetail, bad_request, conflict, not_found
from .params import is_int
from .state import ABORTED, COMPLETED, EXPIRED, IN_PROGRESS, Upload


async def live_upload(ctx: EmulatorContext, request: web.Request) -> Upload:
    """The upload named in the path, for a call that only reads it (``parts/urls``):
    while a complete runs, 409 ``upload_completing``."""
    upload = await _open_upload(ctx, request)
    if upload.completing:
        raise conflict("upload_completing", f"Upload {upload.upload_id!r} is being completed")
    upload.last_activity = ctx.config.clock()
    return upload


@asynccontextmanager
async def changing_upload(ctx: EmulatorContext, request: web.Request) -> AsyncIterator[Upload]:
    """The upload named in the path, held for a call that changes it (checkpoint,
    complete, abort): a call arriving while another runs waits for it, then is
    answered for the state that call left (an abort after a complete: 409
    ``upload_already_completed``)."""
    upload = await _open_upload(ctx, request)
    async with upload.lock:
        _check_open(upload)
        upload.last_activity = ctx.config.clock()
        yield upload


async def _open_upload(ctx: EmulatorContext, request: web.Request) -> Upload:
    """The upload named in the path, if it is still in progress (expiring the abandoned
    ones first, so an upload past its lifetime is gone whoever asks)."""
    await ctx.collect_abandoned()
    upload_id = request.match_info["upload_id"]
    upload = ctx.uploads.get(upload_id)
    if upload is None:
        raise not_found(
            "upload_not_found",
            f"Upload {upload_id!r} does not exist or was aborted",
            "Initiate a new upload",
        )
    _check_open(upload)
    return upload


def _check_open(upload: Upload) -> None:
    if upload.state in (ABORTED, EXPIRED):
        why = "was aborted" if upload.state == ABORTED else "expired unfinished"
        raise not_found(
            "upload_not_found",
            f"Upload {upload.upload_id!r} {why}",
            "Initiate a new upload",
        )
    if upload.state == COMPLETED:
        raise conflict(
            "upload_already_completed", f"Upload {upload.upload_id!r} is already completed"
        )
    assert upload.state == IN_PROGRESS


def file_type_problem(file_type: Any) -> ErrorDetail | None:
    if file_type is None:
        return ErrorDetail("missing_parameter", "'file_type' is required")
    mime = file_type.split(";")[0].strip() if isinstance(file_type, str) else ""
    if mime.count("/") != 1 or " " in mime or mime.startswith("/") or mime.endswith("/"):
        return ErrorDetail(
            "invalid_file_type",
            f"'file_type' must be a MIME type such as text/csv, got {file_type!r}",
        )
    return None


def num_bytes_problem(num_bytes: Any, limit: int) -> ErrorDetail | None:
    if num_bytes is None:
        return ErrorDetail("missing_parameter", "'num_bytes' is required")
    if not is_int(num_bytes):
        return ErrorDetail("invalid_parameter", "'num_bytes' must be an integer")
    if not 0 <= num_bytes <= limit:
        return ErrorDetail(
            "invalid_file_size", f"'num_bytes' must be between 0 and {limit}, got {num_bytes}"
        )
    return None


def check_part_number(upload: Upload, n: Any) -> int:
    if not is_int(n) or n not in upload.part_numbers:
        first, last = upload.part_numbers[0], upload.part_numbers[-1]
        raise bad_request(
            "invalid_part_number",
            f"Part number {n!r} is not an integer between {first} and {last}",
        )
    return n


def read_part_tokens(
    upload: Upload, body: dict[str, Any], *, field: str, required: bool
) -> dict[int, str]:
    """``[{part_number, part_token}, ...]`` as a dict; duplicates are an error."""
    parts = body.get(field)
    if parts is None:
        if required:
            raise bad_request("missing_parameter", f"'{field}' is required (send [] for none)")
        return {}
    if not isinstance(parts, list):
        raise bad_request("invalid_parameter", f"'{field}' must be an array")
    tokens: dict[int, str] = {}
    for part in parts:
        if not isinstance(part, dict) or "part_number" not in part or "part_token" not in part:
            raise bad_request(
                "missing_parameter", f"each entry of '{field}' needs part_number and part_token"
            )
        n = check_part_number(upload, part["part_number"])
        if n in tokens:
            raise bad_request("invalid_part_number", f"Part number {n} is listed twice")
        if not isinstance(part["part_token"], str):
            raise bad_request("invalid_parameter", f"part_token of part {n} must be a string")
        tokens[n] = part["part_token"]
    return tokens


def read_checksum(ctx: EmulatorContext, checksum: Any) -> int | None:
    if checksum is None:
        return None
    if ctx.config.integrity_algorithm == "none":
        raise bad_request(
            "invalid_parameter",
            "integrity_checksum was sent but this upload's integrity_algorithm is 'none'",
            "Omit integrity_checksum",
        )
    try:
        raw = base64.b64decode(checksum, validate=True) if isinstance(checksum, str) else b""
    except binascii.Error:
        raw = b""
    if len(raw) != 4:
        raise bad_request(
            "invalid_parameter",
            "integrity_checksum must be the base64 of a 4-byte big-endian CRC32C",
        )
    return int.from_bytes(raw, "big")
