"""Assemble one emulated Files API as an ``aiohttp.web.Application``.

Middlewares, outermost first: count the request; shape the network (latency, storage
PUT bandwidth); inject a fault if one fires; turn any failure on an API path into the
``{"errors": [...]}`` envelope; check the bearer key (API paths only; presigned storage
URLs carry their own signature); apply the rate limit (API paths only, when enabled).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from .._shared.faults import FaultInjector
from .._shared.injection import apply_fault
from .._shared.ratelimit import RateLimiter, retry_after_seconds
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from .._shared.storage import PresignedStorage
from . import files_api, uploads_api
from .config import API_PREFIX, EmulatorConfig
from .context import CONTEXT_KEY, EmulatorContext
from .errors import ApiError
from .state import FileIndex, UploadRegistry

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_MAX_JSON_BODY = 64 * 1024 * 1024
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "invalid_file_size"}


def build_app(
    config: EmulatorConfig,
    stats: EmulatorStats | None = None,
    faults: FaultInjector | None = None,
) -> web.Application:
    """A ready-to-run application serving ``config``.

    Pass ``stats`` to read counters and ``faults`` to change faults while it runs; by
    default both are fresh (the injector starts with ``config.faults`` and ``config.seed``).
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else EmulatorStats()
    faults = faults if faults is not None else FaultInjector(config.faults, config.seed)
    storage = PresignedStorage(config.data_dir / "parts", config.signing_secret, stats)
    files = FileIndex(config.data_dir)
    storage.expose(files_api.BLOB_PREFIX, files.blob_of_uid, ranges=not config.ignore_range)
    context = EmulatorContext(
        config=config,
        stats=stats,
        storage=storage,
        uploads=UploadRegistry(),
        files=files,
        faults=faults,
        shaper=NetworkShaper(config.latency, config.put_bandwidth, config.link_bandwidth),
        rate_limiter=(
            RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst_per_second)
            if config.rate_limit
            else None
        ),
    )
    # client_max_size bounds JSON bodies (a complete of 10,000 parts is ~1 MB); multipart
    # uploads are streamed and bounded by simple_upload_limit instead.
    app = web.Application(
        middlewares=[
            _count_requests,
            _shape_network,
            _inject_faults,
            _error_envelope,
            _require_api_key,
            _rate_limit,
        ],
        client_max_size=_MAX_JSON_BODY,
    )
    app[CONTEXT_KEY] = context
    storage.add_routes(app)
    uploads_api.add_routes(app)
    files_api.add_routes(app)
    return app


def _is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


@web.middleware
async def _count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name
    request.app[CONTEXT_KEY].stats.count_request(route, api=_is_api(request))
    return await handler(request)


@web.middleware
async def _shape_network(request: web.Request, handler: Handler) -> web.StreamResponse:
    await request.app[CONTEXT_KEY].shaper.shape(request)
    return await handler(request)


@web.middleware
async def _inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    fault = request.app[CONTEXT_KEY].faults.pick(request.match_info.route.name)
    if fault is None:
        return await handler(request)
    return await apply_fault(request, handler, fault)


@web.middleware
async def _error_envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.to_response()
    except web.HTTPException as exc:
        if not _is_api(request) or exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, f"HTTP_{exc.status}")
        return ApiError(exc.status, code, exc.reason).to_response()
    except ConnectionError:
        raise  # the client went away; nobody to answer
    except Exception:
        if not _is_api(request):
            raise
        # A bug in the emulator: say so in the API's own format, keep the traceback.
        logger.exception("emulator error on %s %s", request.method, request.path)
        return ApiError(500, "internal_error", "The emulator failed; see its log").to_response()


@web.middleware
async def _require_api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_api(request):
        expected = f"Bearer {request.app[CONTEXT_KEY].config.api_key}"
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(
                401,
                "UNAUTHORIZED",
                "Missing or invalid API key",
                "Send the header 'Authorization: Bearer <API key>'",
            )
    return await handler(request)


@web.middleware
async def _rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CONTEXT_KEY]
    if ctx.rate_limiter is None or not _is_api(request):
        return await handler(request)
    wait = ctx.rate_limiter.acquire()
    if wait > 0:
        ctx.stats.count_rate_limited()
        response = ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            "Too many requests",
            f"Retry after {retry_after_seconds(wait)} s; the limit is "
            f"{ctx.config.rate_limit_per_minute:g} requests/min with bursts of "
            f"{ctx.config.rate_limit_burst_per_second:g} requests/s",
        ).to_response()
        response.headers["Retry-After"] = retry_after_seconds(wait)
        return response
    return await handler(request)
