"""Files plane: simple upload, info, metadata (both listing forms), download, delete."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from .._shared.bodies import MalformedBody, multipart_errors
from .config import API_PREFIX
from .context import EmulatorContext, context_of
from .errors import ApiError, bad_request, not_found
from .file_index import FILE_STATUS_CORRUPT, FILE_STATUS_INGESTED, FileRecord, new_file_uid
from .params import name_problem, query_int, raise_if_any

_FILES = API_PREFIX + "/files"
_CHUNK = 1 << 20
_MAX_PAGE = 1000
_DEFAULT_PAGE = 100
NOT_EXTRACTED = {"metadata_status": "not_extracted"}
"""``file_attributes`` of every published file: the emulator extracts no metadata."""
_MULTIPART_OVERHEAD = 1 << 20
"""Slack over ``simple_upload_limit`` for multipart framing before a body is refused unread."""


def add_routes(app: web.Application) -> None:
    app.router.add_post(_FILES, simple_upload, name="simple_upload")
    app.router.add_post(_FILES + "/base64", base64_upload, name="base64_upload")
    app.router.add_get(_FILES + "/info", info, name="info")
    app.router.add_get(_FILES + "/metadata", metadata_list, name="metadata_list")
    # ``{file_id:.+}`` takes the whole tail, so names containing "/" (raw or %2F) match.
    app.router.add_get(_FILES + "/metadata/{file_id:.+}", metadata_get, name="metadata_get")
    app.router.add_get(_FILES + "/download/{file_id:.+}", download, name="download")
    app.router.add_delete(_FILES + "/delete/{file_id:.+}", delete, name="delete")


# -- uploads through the API -----------------------------------------------------------
async def simple_upload(request: web.Request) -> web.Response:
    return await _multipart_upload(request, decode_base64=False)


async def base64_upload(request: web.Request) -> web.Response:
    return await _multipart_upload(request, decode_base64=True)


async def _multipart_upload(request: web.Request, *, decode_base64: bool) -> web.Response:
    """Store the first file part of a multipart body, whatever its field name."""
    ctx = context_of(request)
    limit = ctx.config.simple_upload_limit
    if request.content_length is not None and request.content_length > limit + _MULTIPART_OVERHEAD:
        raise _too_large(limit)
    if not request.content_type.startswith("multipart/"):
        raise bad_request("invalid_body", "Expected a multipart/form-data body with a file part")
    with _malformed_multipart_is_400():
        reader, part = await _first_file_part(request)
    filename = part.filename
    raise_if_any([name_problem(filename, "filename")])
    assert filename is not None
    file_type = _part_file_type(part, filename)
    tmp = ctx.files.new_tmp_path()
    file_uid = new_file_uid()
    try:
        with _malformed_multipart_is_400():
            size = await _save_part(part, tmp, limit, decode_base64)
            await _read_to_the_end(reader)
        await ctx.backend.store_file(file_uid, tmp, file_type)
    finally:
        tmp.unlink(missing_ok=True)
    await publish_record(
        ctx,
        file_id=filename,
        file_uid=file_uid,
        file_type=file_type,
        num_bytes=size,
        file_status=FILE_STATUS_INGESTED,
    )
    return web.json_response({"is_valid": True, "file_id": filename, "file_uid": file_uid})


async def publish_record(
    ctx: EmulatorContext,
    *,
    file_id: str,
    file_uid: str,
    file_type: str,
    num_bytes: int,
    file_status: str,
) -> None:
    """List a file whose bytes storage holds, replacing (and dropping) a same-named one."""
    replaced = ctx.files.register(
        file_id=file_id,
        file_uid=file_uid,
        file_type=file_type,
        num_bytes=num_bytes,
        file_status=file_status,
        file_attributes=dict(NOT_EXTRACTED),
    )
    ctx.stats.count_file_published()
    if replaced is not None:
        await ctx.backend.drop_file(replaced.file_uid)


@contextmanager
def _malformed_multipart_is_400() -> Iterator[None]:
    try:
        with multipart_errors():
            yield
    except MalformedBody as exc:
        raise bad_request(
            "invalid_body",
            f"Malformed request body: {exc}",
            "Send multipart/form-data with a file part, e.g. curl -F file=@data.csv",
        ) from None


async def _first_file_part(
    request: web.Request,
) -> tuple[MultipartReader, BodyPartReader]:
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise bad_request(
                "missing_parameter",
                "No file part in the multipart body",
                "Send the file as a part with a filename, e.g. curl -F file=@data.csv",
            )
        if isinstance(part, BodyPartReader) and part.filename is not None:
            return reader, part
        await part.release()


async def _read_to_the_end(reader: MultipartReader) -> None:
    """Skip the parts after the file, up to the closing boundary: a body cut short ends
    the file part without one, and must not publish what arrived of the file."""
    while (part := await reader.next()) is not None:
        await part.release()


def _part_file_type(part: BodyPartReader, filename: str) -> str:
    """The part's Content-Type, unless absent or generic; then a guess from the extension."""
    declared = part.headers.get("Content-Type", "").split(";")[0].strip()
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


async def _save_part(part: BodyPartReader, target: Path, limit: int, decode_base64: bool) -> int:
    """Stream one part to ``target`` (decoding base64 on the fly); refuse past ``limit``."""
    size = 0
    pending = b""  # base64 characters not yet forming a whole 4-character group
    with open(target, "wb") as out:
        while chunk := await part.read_chunk(_CHUNK):
            if decode_base64:
                text = pending + b"".join(chunk.split())
                cut = len(text) - len(text) % 4
                pending = text[cut:]
                try:
                    chunk = base64.b64decode(text[:cut], validate=True)
                except binascii.Error as exc:
                    raise bad_request("invalid_body", f"File part is not base64: {exc}") from None
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            out.write(chunk)
    if pending:
        raise bad_request("invalid_body", "File part is not base64: truncated input")
    return size


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "invalid_file_size",
        f"File is larger than the {limit}-byte limit of this endpoint",
        "Use the direct-to-cloud upload (POST /files/uploads/initiate) for large files",
    )


# -- reading -------------------------------------------------------------------------
async def info(request: web.Request) -> web.Response:
    files = context_of(request).files
    records = list(files)
    return web.json_response(
        {
            "num_files": len(records),
            "num_bytes": sum(r.num_bytes for r in records),
            "num_ingested": sum(r.file_status == FILE_STATUS_INGESTED for r in records),
            "last_updated": files.last_updated,
        }
    )


async def metadata_list(request: web.Request) -> web.Response:
    """Cursor form when ``limit``/``after``/``before`` is given, else the shard array."""
    ctx = context_of(request)
    wanted_type = request.query.get("file_type")
    records = [
        r for r in ctx.files.oldest_first() if wanted_type is None or r.file_type == wanted_type
    ]
    positions = ctx.files.positions()
    if {"limit", "after", "before"} & request.query.keys():
        return web.json_response(_cursor_page(request, records[::-1], positions))
    return web.json_response(
        [r.to_metadata(positions[r.file_id]) for r in _shard(request, records)]
    )


def _shard(request: web.Request, oldest_first: list[FileRecord]) -> list[FileRecord]:
    index = query_int(request, "shard_index", -1)
    size = query_int(request, "max_items_per_shard", -1)
    if index < -1 or size == 0 or size < -1:
        raise bad_request(
            "invalid_parameter", "shard_index must be >= -1 and max_items_per_shard >= 1 or -1"
        )
    size = _MAX_PAGE if size == -1 else min(size, _MAX_PAGE)
    if index == -1:
        return oldest_first[:_MAX_PAGE]
    return oldest_first[index * size : (index + 1) * size]


def _cursor_page(
    request: web.Request, newest_first: list[FileRecord], positions: dict[str, int]
) -> dict[str, Any]:
    limit = query_int(request, "limit", _DEFAULT_PAGE)
    if not 1 <= limit <= _MAX_PAGE:
        raise bad_request("invalid_parameter", f"'limit' must be between 1 and {_MAX_PAGE}")
    limit = min(limit, context_of(request).config.max_page_size)
    # An empty cursor is no cursor: clients often send "after=" on the first page.
    after, before = request.query.get("after") or None, request.query.get("before") or None
    if after is not None and before is not None:
        raise bad_request("invalid_parameter", "'after' and 'before' are mutually exclusive")
    if after is not None:
        after_seq = _decode_cursor(after)
        page = [r for r in newest_first if r.seq < after_seq][:limit]
    elif before is not None:
        page = [r for r in newest_first if r.seq > _decode_cursor(before)][-limit:]
    else:
        page = newest_first[:limit]
    if page:
        older = any(r.seq < page[-1].seq for r in newest_first)
        newer = any(r.seq > page[0].seq for r in newest_first)
        next_cursor = _encode_cursor(page[-1].seq) if older else None
        prev_cursor = _encode_cursor(page[0].seq) if newer else None
    elif after is not None and any(r.seq >= after_seq for r in newest_first):
        # Past the end going forward: step back to the page that ended at the cursor.
        next_cursor, prev_cursor = None, _encode_cursor(after_seq - 1)
    else:
        next_cursor = prev_cursor = None
    return {
        "data": [r.to_metadata(positions[r.file_id]) for r in page],
        "has_more": next_cursor is not None,
        "next_cursor": next_cursor,
        "prev_cursor": prev_cursor,
    }


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, seq = text.partition(":")
        if tag != "v1":
            raise ValueError(tag)
        return int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise bad_request(
            "invalid_cursor",
            "Cursor is not one this server issued",
            "Pass a next_cursor or prev_cursor from a previous page unchanged",
        ) from None


async def metadata_get(request: web.Request) -> web.Response:
    ctx = context_of(request)
    record = _existing(ctx, request.match_info["file_id"])
    return web.json_response(record.to_metadata(ctx.files.positions()[record.file_id]))


async def download(request: web.Request) -> web.StreamResponse:
    """The file's bytes as its storage serves them (:meth:`.backends.Backend.download`):
    streamed with one ``Range`` honoured, or a 307 to a presigned storage GET."""
    ctx = context_of(request)
    record = _existing(ctx, request.match_info["file_id"])
    if record.file_status == FILE_STATUS_CORRUPT:
        raise bad_request(
            "file_not_downloadable",
            f"{record.file_id!r} is corrupt (its integrity check failed)",
            "Upload the file again",
        )
    return await ctx.backend.download(request, record)


async def delete(request: web.Request) -> web.Response:
    ctx = context_of(request)
    file_id = request.match_info["file_id"]
    record = ctx.files.delete(file_id)
    if record is None:
        raise _file_not_found(file_id)
    await ctx.backend.drop_file(record.file_uid)
    return web.json_response(
        {"is_valid": True, "file_id": record.file_id, "file_uid": record.file_uid}
    )


def _existing(ctx: EmulatorContext, file_id: str) -> FileRecord:
    record = ctx.files.get(file_id)
    if record is None:
        raise _file_not_found(file_id)
    return record


def _file_not_found(file_id: str) -> ApiError:
    return not_found(
        "file_not_found", f"No file named {file_id!r}", "List files with GET /files/metadata"
    )
