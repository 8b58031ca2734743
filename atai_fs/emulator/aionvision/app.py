"""Assemble one emulated Aionvision Uploads API as an ``aiohttp.web.Application``.

Middlewares, outermost first: count the request; add latency; inject a fault if one
fires; turn failures on API paths into the spec's error bodies; check the bearer key
(API paths only; presigned storage URLs carry their own signature); apply the tier's
rate limit (API paths only, when enabled); enforce the signed ``Content-Type`` of
storage PUTs.  Storage is the shared
:class:`~atai_fs.emulator._shared.storage.PresignedStorage`.
"""

from __future__ import annotations

from aiohttp import web

from .._shared import middleware
from .._shared.errors import s3_error
from .._shared.middleware import Handler, route_of
from .._shared.ratelimit import RateLimiter
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from .._shared.storage import PUT_ROUTE, PresignedStorage
from . import batches, checks, presigned, sessions, status, streaming
from .config import API_PREFIX, AionVisionConfig
from .context import CONTEXT_KEY, AionContext
from .errors import AionError, AionErrors
from .faults import AionFaultInjector
from .state import Workspace


def build_aionvision_app(
    config: AionVisionConfig,
    stats: EmulatorStats | None = None,
    faults: AionFaultInjector | None = None,
) -> web.Application:
    """A ready-to-run application serving ``config`` (see the package docstring)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else EmulatorStats()
    faults = (
        faults
        if faults is not None
        else AionFaultInjector(config.faults, config.seed, config.clock)
    )
    rpm = config.requests_per_minute
    limiter = RateLimiter(rpm, config.rate_limit_burst or rpm) if config.rate_limit else None
    context = AionContext(
        config=config,
        stats=stats,
        storage=PresignedStorage(config.data_dir / "storage", config.signing_secret, stats),
        workspace=Workspace(config.data_dir),
        faults=faults,
    )
    in_api = middleware.under(API_PREFIX)
    errors = AionErrors()

    def unauthorized() -> AionError:
        return AionError(401, "INVALID_API_KEY", "Missing or invalid API key")

    def rate_limited(retry_after: int) -> AionError:
        return AionError(
            429,
            "RATE_LIMIT_ERROR",
            f"Rate limit of {rpm:g} requests/min exceeded",
            {"retry_after": retry_after},
            retry_after=retry_after,
        )

    app = web.Application(
        middlewares=[
            middleware.count_requests(stats, api=in_api),
            middleware.shape_network(NetworkShaper(config.latency)),
            middleware.inject_faults(faults, errors),
            middleware.error_bodies(errors, scope=in_api),
            middleware.require_bearer(config.api_key, unauthorized, scope=in_api),
            middleware.rate_limit(limiter, stats, rate_limited, scope=in_api),
            _signed_content_type,
        ],
        client_max_size=16 * 1024 * 1024,
    )
    app[CONTEXT_KEY] = context
    context.storage.add_routes(app)
    _add_routes(app)
    return app


def _add_routes(app: web.Application) -> None:
    routes = app.router
    routes.add_post(
        f"{API_PREFIX}/user-files/upload/stream", streaming.stream_upload, name="stream_upload"
    )
    routes.add_post(
        f"{API_PREFIX}/user-files/upload/stream-batch", streaming.stream_batch, name="stream_batch"
    )
    uploads = f"{API_PREFIX}/uploads"
    routes.add_get(f"{uploads}/quota-check", checks.quota_check, name="quota_check")
    routes.add_post(f"{uploads}/check-duplicates", checks.check_duplicates, name="check_duplicates")
    routes.add_post(
        f"{uploads}/request-presigned-url",
        presigned.request_presigned_url,
        name="request_presigned_url",
    )
    routes.add_post(f"{uploads}/confirm", presigned.confirm, name="confirm")
    routes.add_post(f"{uploads}/batch-prepare", batches.batch_prepare, name="batch_prepare")
    routes.add_post(f"{uploads}/batch-confirm", batches.batch_confirm, name="batch_confirm")
    routes.add_get(
        f"{uploads}/batch/{{batch_id}}/status", batches.batch_status, name="batch_status"
    )
    routes.add_get(f"{uploads}/status/{{image_id}}", status.image_status, name="image_status")
    session = f"{uploads}/sessions/{{session_id}}"
    routes.add_get(f"{session}/status", sessions.session_status, name="session_status")
    routes.add_get(f"{session}/results", sessions.session_results, name="session_results")
    routes.add_post(f"{session}/cancel", sessions.session_cancel, name="session_cancel")


@web.middleware
async def _signed_content_type(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The storage PUT must carry the ``upload_headers`` the URL was signed for."""
    if route_of(request) == PUT_ROUTE:
        ctx = request.app[CONTEXT_KEY]
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
