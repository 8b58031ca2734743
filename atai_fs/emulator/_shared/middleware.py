"""The middlewares every emulated API is assembled from, written once.

Each factory takes what differs between APIs: which requests a middleware applies to
(API routes only, or all of them), how the API words an error (its
:class:`~.errors.ErrorStyle`), how a refused request is answered. An app lists them
outermost first, typically::

    count_requests  ->  shape_network  ->  inject_faults  ->  error_bodies
        ->  require_bearer  ->  rate_limit  ->  the handler

so every request is counted and shaped, an injected fault answers before auth is
checked, and any failure below ``error_bodies`` reaches the client in the API's format.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web

from .errors import STORAGE_ERRORS, ApiFailure, ErrorStyle
from .faults import BaseFaultInjector
from .injection import apply_fault
from .ratelimit import RateLimiter, retry_after_seconds
from .shaping import NetworkShaper
from .stats import EmulatorStats

if TYPE_CHECKING:
    from aiohttp.typedefs import Middleware

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Scope = Callable[[web.Request], bool]
"""Which requests a middleware applies to."""


def route_of(request: web.Request) -> str | None:
    """The request's route name, as counted in ``stats.requests_by_route``."""
    return request.match_info.route.name


def everywhere(request: web.Request) -> bool:
    return True


def under(prefix: str) -> Scope:
    """Requests for ``prefix`` or a path below it (an API's routes, not its storage)."""

    def applies(request: web.Request) -> bool:
        return request.path == prefix or request.path.startswith(prefix + "/")

    return applies


def count_requests(stats: EmulatorStats, *, api: Scope) -> Middleware:
    """Count every request by route, failed or not; ``api`` ones also in ``api_requests``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        stats.count_request(route_of(request), api=api(request))
        return await handler(request)

    return middleware


def shape_network(shaper: NetworkShaper) -> Middleware:
    """Latency before every request; bandwidth caps on storage PUT bodies."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        await shaper.shape(request)
        return await handler(request)

    return middleware


def inject_faults(faults: BaseFaultInjector[Any], errors: ErrorStyle) -> Middleware:
    """Apply the fault that fires for this request's route, if one does."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = faults.pick(route_of(request))
        if fault is None:
            return await handler(request)
        return await apply_fault(request, handler, fault, errors)

    return middleware


def error_bodies(
    errors: ErrorStyle, *, scope: Scope = everywhere, elsewhere: ErrorStyle = STORAGE_ERRORS
) -> Middleware:
    """Turn every failure of a request into an error answer: the API's for requests in
    ``scope``, ``elsewhere``'s (by default the storage's S3 XML) for the others.

    An :class:`~.errors.ApiFailure` answers itself; aiohttp's refusals (unknown route,
    method, a body over ``client_max_size``, with their headers such as ``Allow``) and
    bugs of the emulator are worded by the style. A bug is logged with its traceback and
    answered 500 without it. A client that went away gets no answer: there is nobody to
    read it.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        style = errors if scope(request) else elsewhere
        try:
            return await handler(request)
        except ApiFailure as exc:
            return exc.to_response(request)
        except web.HTTPException as exc:
            answer = style.http_error(request, exc) if exc.status >= 400 else None
            if answer is None:
                raise
            for name, value in exc.headers.items():
                if name not in (hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH):
                    answer.headers.setdefault(name, value)
            return answer
        except ConnectionError:
            raise
        except Exception:
            # A bug in the emulator: say so in the answer's own format, keep the traceback.
            logger.exception("emulator error on %s %s", request.method, request.path)
            return style.internal_error(request)

    return middleware


def require_bearer(api_key: str, refusal: Callable[[], ApiFailure], *, scope: Scope) -> Middleware:
    """Refuse requests in ``scope`` without ``Authorization: Bearer <api_key>``
    (presigned storage URLs carry their own signature instead)."""
    expected = f"Bearer {api_key}".encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if scope(request):
            given = request.headers.get("Authorization", "").encode("utf-8", "surrogatepass")
            if not hmac.compare_digest(given, expected):
                raise refusal()
        return await handler(request)

    return middleware


def rate_limit(
    limiter: RateLimiter | None,
    stats: EmulatorStats,
    refusal: Callable[[int], ApiFailure],
    *,
    scope: Scope,
) -> Middleware:
    """Admit requests in ``scope`` through ``limiter`` (none: no limit); a refused one
    gets ``refusal(retry_after_seconds)`` and is counted in ``stats.rate_limited``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if limiter is not None and scope(request):
            wait = limiter.acquire()
            if wait > 0:
                stats.count_rate_limited()
                raise refusal(retry_after_seconds(wait))
        return await handler(request)

    return middleware
