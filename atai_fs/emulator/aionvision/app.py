"""Assemble one emulated Aionvision Uploads API as an ``aiohttp.web.Application``.

Middlewares, outermost first: count the request; add latency; inject a fault if one
fires; turn failures on API paths into the spec's error bodies; check the bearer key
(API paths only; presigned storage URLs carry their own signature); apply the tier's
rate limit (API paths only, when enabled); enforce the signed ``Content-Type`` of
storage PUTs.  Storage is the shared :class:`~atai_fs.emulator.storage.PresignedStorage`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .._shared.errors import s3_error
from .._shared.faults import FaultInjector
from .._shared.injection import apply_fault
from .._shared.ratelimit import RateLimiter, retry_after_seconds
from .._shared.stats import EmulatorStats
from .._shared.storage import ROUTE_NAME as STORAGE_PUT
from .._shared.storage import PresignedStorage
from .._shared.transfer import reset_connection
from . import api
from .api import CONTEXT_KEY, AionContext
from .config import API_PREFIX, AionVisionConfig
from .errors import INJECTED_CODES, AionError, ValidationFailed
from .faults import API_JSON_ROUTES
from .state import Workspace

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_aionvision_app(
    config: AionVisionConfig,
    stats: EmulatorStats | None = None,
    faults: FaultInjector | None = None,
) -> web.Application:
    """A ready-to-run application serving ``config`` (see the package docstring)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else EmulatorStats()
    faults = faults if faults is not None else FaultInjector(config.faults, config.seed)
    rpm = config.requests_per_minute
    context = AionContext(
        config=config,
        stats=stats,
        storage=PresignedStorage(config.data_dir / "storage", config.signing_secret, stats),
        workspace=Workspace(config.data_dir),
        faults=faults,
        rate_limiter=(
            RateLimiter(rpm, config.rate_limit_burst or rpm) if config.rate_limit else None
        ),
    )
    app = web.Application(
        middlewares=[
            _count_requests,
            _latency,
            _inject_faults,
            _error_bodies,
            _require_api_key,
            _rate_limit,
            _signed_content_type,
        ],
        client_max_size=16 * 1024 * 1024,
    )
    app[CONTEXT_KEY] = context
    context.storage.add_routes(app)
    api.add_routes(app)
    return app


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(API_PREFIX + "/")


def _route(request: web.Request) -> str | None:
    return request.match_info.route.name


@web.middleware
async def _count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    request.app[CONTEXT_KEY].stats.count_request(_route(request), api=_is_api(request))
    return await handler(request)


@web.middleware
async def _latency(request: web.Request, handler: Handler) -> web.StreamResponse:
    delay = request.app[CONTEXT_KEY].config.latency
    if delay:
        await asyncio.sleep(delay)
    return await handler(request)


@web.middleware
async def _inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route(request)
    fault = request.app[CONTEXT_KEY].faults.pick(route)
    if fault is None:
        return await handler(request)
    if fault.action == "status" and route in API_JSON_ROUTES and fault.body is None:
        response = AionError(
            fault.status, INJECTED_CODES.get(fault.status, "ERROR"), "Injected fault"
        ).to_response()
        if fault.retry_after_header is not None:
            response.headers["Retry-After"] = fault.retry_after_header
        return response
    if fault.action == "reset_after":
        await handler(request)  # the request lands...
        reset_connection(request)  # ...and its answer is lost
        return web.Response(status=500)  # never sent: the connection is gone
    return await apply_fault(request, handler, fault)


@web.middleware
async def _error_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (AionError, ValidationFailed) as exc:
        return exc.to_response()
    except web.HTTPException as exc:
        if not _is_api(request) or exc.status < 400:
            raise
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "FILE_TOO_LARGE"}.get(
            exc.status, f"HTTP_{exc.status}"
        )
        return AionError(exc.status, code, exc.reason).to_response()
    except ConnectionError:
        raise
    except Exception:
        if not _is_api(request):
            raise
        logger.exception("emulator error on %s %s", request.method, request.path)
        return AionError(500, "INTERNAL_ERROR", "The emulator failed; see its log").to_response()


@web.middleware
async def _require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_api(request):
        expected = f"Bearer {request.app[CONTEXT_KEY].config.api_key}"
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise AionError(401, "INVALID_API_KEY", "Missing or invalid API key")
    return await handler(request)


@web.middleware
async def _rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CONTEXT_KEY]
    if ctx.rate_limiter is None or not _is_api(request):
        return await handler(request)
    wait = ctx.rate_limiter.acquire()
    if wait > 0:
        ctx.stats.count_rate_limited()
        seconds = retry_after_seconds(wait)
        raise AionError(
            429,
            "RATE_LIMIT_ERROR",
            f"Rate limit of {ctx.config.requests_per_minute:g} requests/min exceeded",
            {"retry_after": int(seconds)},
            retry_after=int(seconds),
        )
    return await handler(request)


@web.middleware
async def _signed_content_type(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The storage PUT must carry the ``upload_headers`` the URL was signed for."""
    if _route(request) == STORAGE_PUT:
        ctx: AionContext = request.app[CONTEXT_KEY]
        key = request.match_info["key"]
        reservation = ctx.workspace.reservations.get(key)
        path = request.rel_url.raw_path
        if reservation is not None:
            length = request.content_length
            if length is not None and length > ctx.config.presigned_max_size:
                return s3_error(
                    400, "EntityTooLarge", "Your proposed upload exceeds the maximum size.", path
                )
            if request.headers.get("Content-Type") != reservation.content_type:
                return s3_error(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided (the Content-Type header must be exactly the upload_headers one).",
                    path,
                )
    return await handler(request)
