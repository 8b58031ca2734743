"""Assemble one emulated Files API as an ``aiohttp.web.Application``.

Middlewares, outermost first: count the request; refuse a ``Host`` that is not the
emulator's (:mod:`.._shared.guards`); shape the network (latency, storage PUT
bandwidth); inject a fault if one fires; turn any failure on an API path into the
``{"errors": [...]}`` envelope; check the bearer key (API paths only; presigned storage
URLs carry their own signature); apply the rate limit (API paths only, when enabled);
close the connection of a body that stalls (innermost, so the emulator's own waits
before the handler never count as the client's stall).
"""

from __future__ import annotations

from aiohttp import web

from .._shared import guards, middleware
from .._shared.ratelimit import RateLimiter
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from .._shared.storage import ROUTE_PREFIX as STORAGE_PREFIX
from . import files_api, uploads_api
from .backends import backend_for
from .config import API_PREFIX, EmulatorConfig
from .context import CONTEXT_KEY, EmulatorContext
from .errors import ApiError, FilesApiErrors
from .faults import FaultInjector
from .file_index import FileIndex
from .state import UploadRegistry


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
    faults = (
        faults if faults is not None else FaultInjector(config.faults, config.seed, config.clock)
    )
    files = FileIndex(config.data_dir)
    backend = backend_for(config, stats, files)
    uploads = UploadRegistry()
    context = EmulatorContext(
        config=config, stats=stats, backend=backend, uploads=uploads, files=files
    )
    limiter = (
        RateLimiter(config.rate_limit_per_minute, config.rate_limit_burst_per_second, config.clock)
        if config.rate_limit
        else None
    )
    api = middleware.under(API_PREFIX)
    errors = FilesApiErrors()

    def unauthorized() -> ApiError:
        return ApiError(
            401,
            "UNAUTHORIZED",
            "Missing or invalid API key",
            "Send the header 'Authorization: Bearer <API key>'",
        )

    def rate_limited(retry_after: int) -> ApiError:
        limits = (
            f"the limit is {config.rate_limit_per_minute:g} requests/min with bursts of "
            f"{config.rate_limit_burst_per_second:g} requests/s"
        )
        if not config.rate_limit_retry_after:
            # The spec does not promise a wait: say nothing of it, header or body.
            return ApiError(429, "RATE_LIMIT_EXCEEDED", "Too many requests", limits)
        return ApiError(
            429,
            "RATE_LIMIT_EXCEEDED",
            "Too many requests",
            f"Retry after {retry_after} s; {limits}",
            retry_after=retry_after,
        )

    # client_max_size bounds JSON bodies (max_json_body: a complete of 10,000 parts is
    # ~1 MB); multipart uploads are streamed and bounded by simple_upload_limit instead.
    app = web.Application(
        middlewares=[
            middleware.count_requests(stats, api=api),
            guards.check_host(errors, config.public_url, storage_prefix=STORAGE_PREFIX),
            middleware.shape_network(
                NetworkShaper(config.latency, config.put_bandwidth, config.link_bandwidth)
            ),
            middleware.inject_faults(faults, errors),
            middleware.error_bodies(errors, scope=api),
            middleware.require_bearer(config.api_key, unauthorized, scope=api),
            middleware.rate_limit(limiter, stats, rate_limited, scope=api),
            guards.bound_body_stalls(config.body_timeout),
        ],
        client_max_size=config.max_json_body,
    )
    app[CONTEXT_KEY] = context

    async def start_storage(_: web.Application) -> None:
        await backend.start()

    async def close_storage(_: web.Application) -> None:
        await backend.close(uploads.in_progress())

    app.on_startup.append(start_storage)
    app.on_cleanup.append(close_storage)
    backend.add_routes(app)
    uploads_api.add_routes(app)
    files_api.add_routes(app)
    return app
