"""The listening socket of a served emulator: how many connections it takes at once.

``aiohttp`` serves every connection it accepts. Here each connection's protocol is
counted from its creation to its connection's loss (:class:`_Counted`), and one over
``max_connections`` is answered ``503`` (``Retry-After: 1``, ``Connection: close``)
before it sends anything, so a flood of sockets costs a few bytes each instead of a
handler each. The count is taken when the protocol is created, not when aiohttp
registers the connection a loop iteration later, so a burst of accepts cannot overshoot.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

_BUSY_TEXT = b"The emulator serves too many connections at once; retry in a second\n"
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n"
    b"\r\n%s" % (len(_BUSY_TEXT), _BUSY_TEXT)
)


class _Busy(asyncio.Protocol):
    """One connection too many: told so, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class _Counted(asyncio.Protocol):
    """An aiohttp connection handler, counted in ``open`` while its connection lives."""

    def __init__(self, handler: asyncio.Protocol, admission: _Admission) -> None:
        self._handler = handler
        self._admission = admission
        admission.open += 1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received()

    def pause_writing(self) -> None:
        self._handler.pause_writing()

    def resume_writing(self) -> None:
        self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._admission.open -= 1
        self._handler.connection_lost(exc)


class _Admission:
    """The protocol factory: aiohttp's handler while fewer than ``limit`` are open."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self._limit = limit
        self.open = 0

    def __call__(self) -> asyncio.BaseProtocol:
        if self.open >= self._limit:
            return _Busy()
        return _Counted(self._server(), self)


async def listen(
    runner: web.AppRunner, host: str, port: int, max_connections: int
) -> asyncio.Server:
    """Serve ``runner`` (set up) on ``host:port``, at most ``max_connections`` at once.

    The caller closes the returned server before ``runner.cleanup()``, which then ends
    the connections still open.
    """
    server = runner.server
    assert server is not None, "runner.setup() first"
    return await asyncio.get_running_loop().create_server(
        _Admission(server, max_connections), host, port
    )
