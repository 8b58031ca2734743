"""Where an API's application keeps the bundle its handlers work on, and how they find it."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web

T = TypeVar("T")


class ContextKey(web.AppKey[T]):
    """The application key of an API's context, which also reads it back from a request.

    ``app[KEY] = context`` when the application is built; ``KEY.of(request)`` in a
    handler; ``emu._state(KEY)`` from a test thread.
    """

    __slots__ = ()

    def of(self, request: web.Request) -> T:
        return request.app[self]
