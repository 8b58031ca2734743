"""Applying a fired :class:`~.faults.Fault` to the request in hand."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..atai.errors import ApiError
from .errors import s3_error
from .faults import STORAGE_ROUTES, Fault
from .pacing import Pacer
from .transfer import plan_of, read_some, reset_connection, send_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MALFORMED_BODY = b"<html><body><h1>OK</h1></body></html>\n"
"""What ``malformed_json`` answers: what a captive portal or a confused proxy might send."""

_API_CODES = {
    400: "invalid_parameter",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "conflict",
    413: "invalid_file_size",
    429: "RATE_LIMIT_EXCEEDED",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
_S3_CODES = {
    400: "BadRequest",
    403: "AccessDenied",
    404: "NoSuchKey",
    500: "InternalError",
    503: "SlowDown",
}


async def apply_fault(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    return await _ACTIONS[fault.action](request, handler, fault)


async def _status(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    message = f"Injected fault: {fault.status}"
    if fault.body is not None:
        response = web.Response(
            status=fault.status, text=fault.body, content_type=_guess_type(fault.body)
        )
    elif _is_storage(request):
        code = _S3_CODES.get(fault.status, f"Http{fault.status}")
        response = s3_error(fault.status, code, message, request.rel_url.raw_path)
    else:
        code = _API_CODES.get(fault.status, f"HTTP_{fault.status}")
        response = ApiError(fault.status, code, message).to_response()
    retry_after = fault.retry_after_header
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


async def _reset(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    if request.body_exists:
        await read_some(request, (request.content_length or 2) // 2)
        reset_connection(request)
        return web.Response(status=500)  # never sent: the connection is gone
    plan_of(request).cut_response = True
    return await _through_plan(request, await handler(request))


async def _slow(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    length = request.content_length or 0
    if request.match_info.route.name == "storage_put":
        if length and fault.delay:
            plan_of(request).read_pacers.append(Pacer(length / fault.delay))
        else:
            await asyncio.sleep(fault.delay)
        return await handler(request)
    plan_of(request).write_delay = fault.delay
    return await _through_plan(request, await handler(request))


async def _latency(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    await asyncio.sleep(fault.delay)
    return await handler(request)


async def _malformed_json(
    request: web.Request, handler: Handler, fault: Fault
) -> web.StreamResponse:
    real = await handler(request)
    return web.Response(status=real.status, body=MALFORMED_BODY, content_type="application/json")


async def _truncated_json(
    request: web.Request, handler: Handler, fault: Fault
) -> web.StreamResponse:
    real = await handler(request)
    body = real.body if isinstance(real, web.Response) else None
    data = bytes(body) if isinstance(body, (bytes, bytearray)) else b""
    return web.Response(
        status=real.status, body=data[: len(data) // 2], content_type="application/json"
    )


async def _wrong_etag(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    response = await handler(request)
    etag = response.headers.get("ETag")
    if response.status == 200 and etag and not response.prepared:
        wrong = hashlib.md5(etag.encode() + b"wrong", usedforsecurity=False).hexdigest()
        response.headers["ETag"] = f'"{wrong}"'
    return response


async def _expire_url(request: web.Request, handler: Handler, fault: Fault) -> web.StreamResponse:
    return s3_error(403, "AccessDenied", "Request has expired", request.rel_url.raw_path)


_ACTIONS: dict[str, Callable[[web.Request, Handler, Fault], Awaitable[web.StreamResponse]]] = {
    "status": _status,
    "reset": _reset,
    "slow": _slow,
    "latency": _latency,
    "malformed_json": _malformed_json,
    "truncated_json": _truncated_json,
    "wrong_etag": _wrong_etag,
    "expire_url": _expire_url,
}


async def _through_plan(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Send a handler's built response under the request's plan (streamed ones already were)."""
    if response.prepared or not isinstance(response, web.Response):
        return response
    return await send_response(request, response)


def _is_storage(request: web.Request) -> bool:
    return request.match_info.route.name in STORAGE_ROUTES


def _guess_type(body: str) -> str:
    head = body.lstrip()[:64].lower()
    if head.startswith("<?xml"):
        return "application/xml"
    if head.startswith("<"):
        return "text/html"
    if head.startswith(("{", "[")):
        return "application/json"
    return "text/plain"
