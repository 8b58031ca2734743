"""Multipart bodies of the stream endpoints, parsed as a stream: each file part is spooled
to disk with its SHA-256 (bytes beyond the streaming limit are drained, not kept), text
fields are read whole up to a small bound."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web

from .._shared.bodies import MalformedBody, multipart_errors
from .context import AionContext
from .errors import AionError, invalid

_CHUNK = 1 << 20
_MAX_FIELD = 64 * 1024
_MAX_PARTS = 1000


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
    try:
        with open(path, "wb") as out:
            while chunk := await part.read_chunk(_CHUNK):
                size += len(chunk)
                if size <= limit:
                    digest.update(chunk)
                    out.write(chunk)
    except BaseException:  # a body cut short: the spooled start is nobody's
        path.unlink(missing_ok=True)
        raise
    return Received(
        part.name or "", part.filename or "", path, size, digest.hexdigest(), size > limit
    )


async def read_multipart(
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
        with _malformed_multipart_is_400():
            await _read_parts(request, ctx, file_field, max_files, files, fields)
    except BaseException:
        for item in files:
            item.path.unlink(missing_ok=True)
        raise
    return files, fields


@contextmanager
def _malformed_multipart_is_400() -> Iterator[None]:
    """A body the multipart parser cannot follow: 400, as FastAPI answers it."""
    try:
        with multipart_errors():
            yield
    except MalformedBody as exc:
        raise AionError(400, "VALIDATION_ERROR", f"Malformed request body: {exc}") from None


async def _read_parts(
    request: web.Request,
    ctx: AionContext,
    file_field: str,
    max_files: int,
    files: list[Received],
    fields: dict[str, str],
) -> None:
    """Read every part into ``files`` (spooled, as they come) and ``fields``."""
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
