"""Applying a fired fault (:class:`~.faults.BaseFault`) to the request in hand.

What an action does is the same on every API; only the body of an injected ``status`` on
an API route is the API's own, which its :class:`~.errors.ErrorStyle` provides.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import STORAGE_ERRORS, ErrorStyle, s3_error
from .pacing import Pacer
from .storage import PUT_ROUTE, STORAGE_ROUTES
from .transfer import plan_of, read_some, reset_connection, send_response

if TYPE_CHECKING:  # faults asks this module which actions exist
    from .faults import BaseFault

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Action = Callable[[web.Request, Handler, "BaseFault", ErrorStyle], Awaitable[web.StreamResponse]]

MALFORMED_BODY = b"<html><body><h1>OK</h1></body></html>\n"
"""What ``malformed_json`` answers: what a captive portal or a confused proxy might send."""


async def apply_fault(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    """Answer ``request`` as ``fault`` says; ``errors`` words an injected API error."""
    return await _ACTIONS[fault.action](request, handler, fault, errors)


async def _status(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    response: web.StreamResponse
    if fault.body is not None:
        response = web.Response(
            status=fault.status, text=fault.body, content_type=_guess_type(fault.body)
        )
    elif request.match_info.route.name in STORAGE_ROUTES:
        response = STORAGE_ERRORS.injected(request, fault.status)
    else:
        response = errors.injected(request, fault.status)
    retry_after = fault.retry_after_header
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


async def _reset(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    if request.body_exists:
        await read_some(request, (request.content_length or 2) // 2)
        reset_connection(request)
        return web.Response(status=500)  # never sent: the connection is gone
    plan_of(request).cut_response = True
    return await _through_plan(request, await handler(request))


async def _reset_after(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    await handler(request)  # the request lands...
    reset_connection(request)  # ...and its answer is lost
    return web.Response(status=500)  # never sent: the connection is gone


async def _slow(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    length = request.content_length or 0
    if request.match_info.route.name == PUT_ROUTE:
        if length and fault.delay:
            plan_of(request).read_pacers.append(Pacer(length / fault.delay))
        else:
            await asyncio.sleep(fault.delay)
        return await handler(request)
    plan_of(request).write_delay = fault.delay
    return await _through_plan(request, await handler(request))


async def _latency(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    await asyncio.sleep(fault.delay)
    return await handler(request)


async def _malformed_json(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    real = await handler(request)
    return web.Response(status=real.status, body=MALFORMED_BODY, content_type="application/json")


async def _truncated_json(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    real = await handler(request)
    body = real.body if isinstance(real, web.Response) else None
    data = bytes(body) if isinstance(body, (bytes, bytearray)) else b""
    return web.Response(
        status=real.status, body=data[: len(data) // 2], content_type="application/json"
    )


async def _wrong_etag(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    response = await handler(request)
    etag = response.headers.get("ETag")
    if response.status == 200 and etag and not response.prepared:
        wrong = hashlib.md5(etag.encode() + b"wrong", usedforsecurity=False).hexdigest()
        response.headers["ETag"] = f'"{wrong}"'
    return response


async def _expire_url(
    request: web.Request, handler: Handler, fault: BaseFault, errors: ErrorStyle
) -> web.StreamResponse:
    return s3_error(403, "AccessDenied", "Request has expired", request.rel_url.raw_path)


_ACTIONS: dict[str, Action] = {
    "status": _status,
    "reset": _reset,
    "reset_after": _reset_after,
    "slow": _slow,
    "latency": _latency,
    "malformed_json": _malformed_json,
    "truncated_json": _truncated_json,
    "wrong_etag": _wrong_etag,
    "expire_url": _expire_url,
}

INJECTED_ACTIONS = frozenset(_ACTIONS)
"""The actions this module applies; each API offers those that make sense on it."""


async def _through_plan(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Send a handler's built response under the request's plan (streamed ones already were)."""
    if response.prepared or not isinstance(response, web.Response):
        return response
    return await send_response(request, response)


def _guess_type(body: str) -> str:
    head = body.lstrip()[:64].lower()
    if head.startswith("<?xml"):
        return "application/xml"
    if head.startswith("<"):
        return "text/html"
    if head.startswith(("{", "[")):
        return "application/json"
    return "text/plain"
