"""What keeps an emulator safe to run on a developer's machine, written once for every API.

- :func:`check_host`: a request whose ``Host`` header names anything but the address the
  emulator is bound to, ``localhost``, ``127.0.0.1``, ``[::1]`` (each with the bound
  port) or the configured ``public_url`` is refused 421. A web page the developer visits
  can rebind its own name to 127.0.0.1, but its requests still say its name in ``Host``:
  this check is what keeps such a page from driving the API with the documented keys.
- :func:`bound_origin`: the emulator's own origin, from the socket a request arrived on,
  for presigned URLs; never from the client's ``Host`` header.
- :func:`bound_body_stalls`: a request body that stops arriving is not held forever.

The header timeout and the connection cap are properties of the listening socket
(:mod:`.listener`), not of a request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from yarl import URL

from .errors import ErrorStyle, s3_error
from .transfer import plan_of

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

    from .middleware import Handler

logger = logging.getLogger(__name__)

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "0.0.0.0", "[::]")
"""Names of this machine a client on it may use, whatever address the emulator is bound to
(the wildcard addresses too: what the banner of ``--host 0.0.0.0`` prints). A client that
reaches it under any other name (a LAN name, a proxy) needs ``public_url``."""

MISDIRECTED = 421
"""Misdirected Request: this server does not answer for the host the request names."""


def _socket_address(request: web.Request) -> tuple[str, int]:
    """Address and port of the local socket the request arrived on (IPv6 in brackets)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if not sockname:
        raise ConnectionResetError("the connection is closed")
    address, port = str(sockname[0]), int(sockname[1])
    return (f"[{address}]" if ":" in address else address), port


def bound_origin(request: web.Request) -> str:
    """``http://ADDRESS:PORT`` of the socket the request reached: the emulator's own
    address, whatever the request's ``Host`` header says."""
    address, port = _socket_address(request)
    return f"http://{address}:{port}"


def allowed_hosts(request: web.Request, public_url: str | None) -> frozenset[str]:
    """The ``Host`` values this request may carry (lower case)."""
    address, port = _socket_address(request)
    names = {address, *LOOPBACK_NAMES}
    hosts = {f"{name}:{port}" for name in names}
    if port == 80:  # a client leaves the default port out of Host
        hosts |= names
    if public_url is not None:
        public = URL(public_url)
        host = public.raw_host or ""
        host = f"[{host}]" if ":" in host else host
        hosts.add(f"{host}:{public.port}")
        if public.explicit_port is None or public.port == {"http": 80, "https": 443}.get(
            public.scheme
        ):
            hosts.add(host)
    return frozenset(h.lower() for h in hosts)


def check_host(
    errors: ErrorStyle, public_url: str | None, *, storage_prefix: str | None = None
) -> Middleware:
    """Refuse requests whose ``Host`` is not this emulator's (421 in the API's error
    format; S3 XML under ``storage_prefix``, where the presigned storage answers)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if host.lower() in allowed_hosts(request, public_url):
            return await handler(request)
        shown = repr(host) if host else "no Host header"
        message = (
            f"This emulator does not serve {shown}: use its address "
            f"({bound_origin(request)}), localhost, or its public_url"
        )
        if storage_prefix is not None and request.path.startswith(storage_prefix + "/"):
            return s3_error(MISDIRECTED, "MisdirectedRequest", message, request.rel_url.raw_path)
        return errors.answer(request, MISDIRECTED, message)

    return middleware


def bound_body_stalls(timeout: float) -> Middleware:
    """Close the connection of a request whose unfinished body gets no new byte for
    ``timeout`` seconds: the handler's read then fails, its cleanup runs, and nothing of
    the request is kept. Time the emulator itself holds the body back (bandwidth
    pacing) does not count."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.body_exists:
            return await handler(request)
        watch = _StallWatch(request, timeout)
        try:
            return await handler(request)
        except ConnectionError:
            if not watch.closed:
                raise
            logger.info("closed %s %s: its body stalled", request.method, request.path)
            return web.Response(status=408)  # never sent: the connection is closed
        finally:
            watch.cancel()

    return middleware


class _StallWatch:
    """Looks at a request body every ``timeout`` seconds; closes the connection when
    nothing arrived since the last look and the body is neither complete nor paced."""

    def __init__(self, request: web.Request, timeout: float) -> None:
        self._request = request
        self._timeout = timeout
        self._seen = request.content.total_bytes
        self.closed = False
        """The watch closed the connection (the handler's read failed because of it)."""
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(timeout, self._look)

    def _look(self) -> None:
        content = self._request.content
        if content.is_eof():
            self._handle = None
            return
        arrived = content.total_bytes
        if arrived == self._seen and not plan_of(self._request).pacing:
            self._handle = None
            transport = self._request.transport
            if transport is not None:
                self.closed = True
                transport.close()
            return
        self._seen = arrived
        self._handle = self._loop.call_later(self._timeout, self._look)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
