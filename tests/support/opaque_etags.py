"""A storage front that makes S3's ETags opaque: every part PUT through it is answered
with a fresh random 32-hex ETag, as S3 answers for SSE-KMS/SSE-C buckets and several
S3-compatible stores do, never the MD5 of the bytes.

It forwards every request to the S3 behind it, so the emulator's own S3 calls go
through it too: ``CompleteMultipartUpload`` bodies get the real ETags back for the
random ones it handed out (a token it never issued stays unknown, so S3 answers
``InvalidPart``), and ``ListParts`` answers show the random ones. Runs on its own event
loop in a thread, bound to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import html
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

_ETAG_ELEMENT = re.compile(rb"<ETag>(.*?)</ETag>", re.DOTALL)
_BODY_DIGESTS = ("content-md5", "x-amz-checksum")
"""Headers vouching for a request body the front rewrites: dropped with the old body."""
_HOP_BY_HOP = {
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "expect",
    "keep-alive",
    "content-encoding",
}


class OpaqueEtagFront:
    """The rewriting proxy; :attr:`issued` maps each random ETag to the real one."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.issued: dict[str, str] = {}
        self._shown: dict[str, str] = {}
        self.part_puts = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        body = await request.read()
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP
        )
        multipart = "uploadId" in query
        if multipart and request.method == "POST":
            body = _ETAG_ELEMENT.sub(lambda m: self._real(m.group(1)), body)
            for name in [h for h in headers if h.lower().startswith(_BODY_DIGESTS)]:
                headers.popall(name, None)
        url = self.upstream + str(request.rel_url)
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method, url, data=body, headers=headers, allow_redirects=False
            ) as upstream,
        ):
            answer = await upstream.read()
            out_headers = CIMultiDict(
                (k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            )
            status = upstream.status
        if multipart and request.method == "PUT" and "partNumber" in query and status == 200:
            self.part_puts += 1
            out_headers["ETag"] = self._issue(out_headers.get("ETag", ""))
        elif multipart and request.method == "GET" and status == 200:
            answer = _ETAG_ELEMENT.sub(lambda m: self._opaque(m.group(1)), answer)
        return web.Response(status=status, body=answer, headers=out_headers)

    def _issue(self, real: str) -> str:
        opaque = f'"{uuid.uuid4().hex}"'
        self.issued[opaque] = real
        self._shown[real] = opaque
        return opaque

    def _real(self, element: bytes) -> bytes:
        token = html.unescape(element.decode())
        real = self.issued.get(token, token)
        return b"<ETag>" + html.escape(real).encode() + b"</ETag>"

    def _opaque(self, element: bytes) -> bytes:
        real = html.unescape(element.decode())
        shown = self._shown.get(real, real)
        return b"<ETag>" + html.escape(shown).encode() + b"</ETag>"


@contextmanager
def opaque_etag_front(upstream: str) -> Iterator[tuple[str, OpaqueEtagFront]]:
    """Serve an :class:`OpaqueEtagFront` before ``upstream``; yields its URL and itself."""
    front = OpaqueEtagFront(upstream)
    loop = asyncio.new_event_loop()
    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", front.handle)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, name="opaque-etag-front", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", front
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
