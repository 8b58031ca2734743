"""The listening socket of a served emulator: how many connections it takes at once.

``aiohttp`` serves every connection it accepts. Here the protocol factory counts the
connections its server holds and answers one over ``max_connections`` with a ``503``
(``Retry-After: 1``, ``Connection: close``) before it sends anything, so a flood of
sockets costs a few bytes each instead of a handler each.
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


async def listen(
    runner: web.AppRunner, host: str, port: int, max_connections: int
) -> asyncio.Server:
    """Serve ``runner`` (set up) on ``host:port``, at most ``max_connections`` at once.

    The caller closes the returned server before ``runner.cleanup()``, which then ends
    the connections still open.
    """
    server = runner.server
    assert server is not None, "runner.setup() first"

    def protocol() -> asyncio.BaseProtocol:
        if len(server.connections) >= max_connections:
            return _Busy()
        return server()

    return await asyncio.get_running_loop().create_server(protocol, host, port)
