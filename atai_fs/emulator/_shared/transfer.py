"""Moving body bytes: request bodies read at a pace, response bodies written slowly or cut.

Middlewares (network shaping, fault injection) describe what should happen to a
request's bodies in its :class:`TransferPlan`; the handlers read and write bodies only
through this module, so every route behaves the same under the same plan.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aiohttp import web

from .pacing import Pacer
from .ranges import Unsatisfiable, parse_range

_PACED_CHUNK = 64 * 1024
"""Read size when a body is paced: small enough that a paced stream stays smooth."""

_SLOW_STEPS = 10
"""A slow response body goes out in about this many pieces, spread over the delay."""

_FILE_CHUNK = 1 << 20


@dataclass
class TransferPlan:
    """What happens to one request's bodies."""

    read_pacers: list[Pacer] = field(default_factory=list)
    """Every request-body chunk waits on each of these (bandwidth caps, slow uploads)."""
    write_delay: float = 0.0
    """Seconds spread over the response body."""
    cut_response: bool = False
    """Reset the connection after half the response body."""
    pacing: bool = False
    """A read pacer is holding the body back right now: the emulator, not the client, is
    why no new bytes arrive (the body stall watch must not count it)."""


PLAN_KEY = web.RequestKey("atai_emulator_transfer_plan", TransferPlan)


def plan_of(request: web.Request) -> TransferPlan:
    plan = request.get(PLAN_KEY)
    if plan is None:
        plan = request[PLAN_KEY] = TransferPlan()
    return plan


# -- reading -------------------------------------------------------------------------------
async def iter_body(request: web.Request, chunk_size: int) -> AsyncIterator[bytes]:
    """The request body in chunks, each released only once every pacer has let it through."""
    pacers = plan_of(request).read_pacers
    size = min(chunk_size, _PACED_CHUNK) if pacers else chunk_size
    plan = plan_of(request)
    async for chunk in request.content.iter_chunked(size):
        plan.pacing = True
        try:
            for pacer in pacers:
                await pacer.consume(len(chunk))
        finally:
            plan.pacing = False
        yield chunk


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


async def save_body(
    request: web.Request, path: Path, *, expected: int, digest: _Digest, chunk_size: int
) -> int:
    """Stream the request body into ``path``, hashing what is kept; stop reading once it
    is longer than ``expected``.  Returns the bytes received (``expected + 1`` or more
    means too long), so the caller answers with its own API's error."""
    received = 0
    with open(path, "wb") as out:
        async for chunk in iter_body(request, chunk_size):
            received += len(chunk)
            if received > expected:
                break
            digest.update(chunk)
            out.write(chunk)
    return received


async def read_some(request: web.Request, limit: int) -> int:
    """Read and drop up to ``limit`` bytes of the request body; how many were read."""
    read = 0
    while read < limit:
        chunk = await request.content.read(min(_FILE_CHUNK, limit - read))
        if not chunk:
            break
        read += len(chunk)
    return read


# -- writing -------------------------------------------------------------------------------
def reset_connection(request: web.Request) -> None:
    """Abort the TCP connection with a RST, as a crashed proxy or a dropped path would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close() sends RST instead of FIN, and unsent data is dropped.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def stream_out(
    request: web.Request,
    response: web.StreamResponse,
    chunks: AsyncIterator[bytes],
    total: int,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Prepare ``response`` and send ``total`` bytes from ``chunks``, following the plan.

    ``on_bytes`` is told of each piece just before it is written, so a client that has
    read the whole body sees counters that already include it.
    """
    plan = plan_of(request)
    cut_at = total // 2 if plan.cut_response else None
    if cut_at == 0:
        reset_connection(request)
        return
    if plan.write_delay and total == 0:
        await asyncio.sleep(plan.write_delay)
    await response.prepare(request)
    piece_size = max(1, -(-total // _SLOW_STEPS)) if plan.write_delay else None
    sent = 0
    async for chunk in chunks:
        for piece in _split(chunk, piece_size):
            if plan.write_delay:
                await asyncio.sleep(plan.write_delay * len(piece) / total)
            if cut_at is not None and sent + len(piece) >= cut_at:
                piece = piece[: cut_at - sent]
                if on_bytes is not None:
                    on_bytes(len(piece))
                await response.write(piece)
                reset_connection(request)
                return
            if on_bytes is not None:
                on_bytes(len(piece))
            await response.write(piece)
            sent += len(piece)
    await response.write_eof()


async def send_response(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Send a built ``web.Response`` through :func:`stream_out` (slow or cut bodies)."""
    body = response.body
    data = bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else b""
    stream = web.StreamResponse(status=response.status, reason=response.reason)
    stream.headers.update(response.headers)
    stream.content_length = len(data)

    async def one_chunk() -> AsyncIterator[bytes]:
        yield data

    await stream_out(request, stream, one_chunk(), len(data))
    return stream


async def send_file(
    request: web.Request,
    path: Path,
    size: int,
    headers: dict[str, str],
    *,
    honour_range: bool,
    on_bytes: Callable[[int], None],
) -> web.StreamResponse:
    """``path`` (``size`` bytes) as 200, or 206 for one ``Range`` when ``honour_range``.

    A range past the end raises aiohttp's 416 with ``Content-Range: bytes */size``, for
    the error middleware to word in the API's (or the storage's) error body.
    """
    headers = dict(headers)
    if honour_range:
        headers["Accept-Ranges"] = "bytes"
    try:
        byte_range = parse_range(request.headers.get("Range"), size) if honour_range else None
    except Unsatisfiable:
        raise web.HTTPRequestRangeNotSatisfiable(
            headers={**headers, "Content-Range": f"bytes */{size}"}
        ) from None
    status, start, end = 200, 0, size
    if byte_range is not None:
        status, (start, end) = 206, byte_range
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    if request.method == "HEAD":
        await response.prepare(request)
        return response
    await stream_out(request, response, _file_chunks(path, start, end), end - start, on_bytes)
    return response


async def _file_chunks(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    with open(path, "rb") as blob:
        blob.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = blob.read(min(_FILE_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def _split(chunk: bytes, size: int | None) -> list[bytes]:
    if size is None or len(chunk) <= size:
        return [chunk]
    return [chunk[i : i + size] for i in range(0, len(chunk), size)]
