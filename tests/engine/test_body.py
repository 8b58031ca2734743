"""A part body streams its bytes in order and, with hashing off the loop, checksums
large chunks in a worker thread while writing, so the loop thread only moves bytes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading

from atai_fs.engine.body import OFFLOAD_MIN_CHUNK, PartBody
from atai_fs.engine.sources import BytesSource
from tests.engine.fakes import _Collector


def write_observed(
    data: bytes, chunk_size: int, *, in_thread: bool
) -> tuple[bytes, list[tuple[bytes, int]], int]:
    """Write a whole-source body; what was written, what ``on_chunk`` saw (and on which
    thread), and the loop's thread."""
    seen: list[tuple[bytes, int]] = []

    def observe(chunk: object) -> None:
        seen.append((bytes(chunk), threading.get_ident()))  # type: ignore[call-overload]

    async def run() -> tuple[bytes, int]:
        sink = _Collector()
        body = PartBody(
            BytesSource(data),
            0,
            len(data),
            chunk_size=chunk_size,
            on_chunk=observe,
            observe_in_thread=in_thread,
        )
        await body.write(sink)  # type: ignore[arg-type]
        return b"".join(sink.chunks), threading.get_ident()

    written, loop_thread = asyncio.run(run())
    return written, seen, loop_thread


def test_large_chunks_are_checksummed_off_the_loop_in_order():
    data = os.urandom(5 * OFFLOAD_MIN_CHUNK + 17)
    written, seen, loop_thread = write_observed(data, OFFLOAD_MIN_CHUNK, in_thread=True)
    assert written == data
    assert b"".join(chunk for chunk, _ in seen) == data  # every byte, in order
    big = [thread for chunk, thread in seen if len(chunk) >= OFFLOAD_MIN_CHUNK]
    assert len(big) == 5 and loop_thread not in big
    [(tail, tail_thread)] = [(c, t) for c, t in seen if len(c) < OFFLOAD_MIN_CHUNK]
    assert len(tail) == 17 and tail_thread == loop_thread  # a thread hop costs more


def test_without_it_every_chunk_is_checksummed_on_the_loop():
    data = os.urandom(3 * OFFLOAD_MIN_CHUNK)
    written, seen, loop_thread = write_observed(data, OFFLOAD_MIN_CHUNK, in_thread=False)
    assert written == data and b"".join(chunk for chunk, _ in seen) == data
    assert {thread for _, thread in seen} == {loop_thread}


def test_the_digest_of_an_offloaded_body_is_the_digest_of_its_bytes_even_written_twice():
    """aiohttp writes a body again when its reused connection drops: the digest is still
    of the part's bytes once."""
    data = os.urandom(3 * OFFLOAD_MIN_CHUNK + 5)
    md5 = hashlib.md5(usedforsecurity=False)

    async def run() -> None:
        body = PartBody(
            BytesSource(data),
            0,
            len(data),
            chunk_size=OFFLOAD_MIN_CHUNK,
            on_chunk=md5.update,
            observe_in_thread=True,
        )
        await body.write(_Collector())  # type: ignore[arg-type]
        await body.write(_Collector())  # type: ignore[arg-type]

    asyncio.run(run())
    assert md5.hexdigest() == hashlib.md5(data, usedforsecurity=False).hexdigest()
