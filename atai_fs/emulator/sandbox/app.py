"""Assemble one emulated sandbox upload API as an ``aiohttp.web.Application``.

Routes (``{prefix}`` is ``sandboxes`` or ``machines``, both served; :mod:`.handlers`)::

    POST   /v1/{prefix}/{id}/uploads                          create    (route "create")
    GET    /v1/{prefix}/{id}/uploads/{upload_id}              status    (route "status")
    PUT    /v1/{prefix}/{id}/uploads/{upload_id}/parts/{n}    one part  (route "part")
    POST   /v1/{prefix}/{id}/uploads/{upload_id}/complete     complete  (route "complete")
    DELETE /v1/{prefix}/{id}/uploads/{upload_id}              abort     (route "abort")
    PUT    /v1/machines/{id}/file?path=...                    one file  (route "direct")

Middlewares, outermost first: count the request; bound a session's parts in flight;
latency; inject a fault if one fires; turn any failure into the ``ErrorResponse`` body;
check the bearer key. Every answer gets its ``x-request-id`` as it is sent.
"""

from __future__ import annotations

from aiohttp import web

from .._shared import middleware
from .._shared.middleware import Handler, route_of
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from . import direct, handlers
from .config import SandboxConfig
from .context import CONTEXT_KEY, SandboxContext
from .errors import SandboxErrors, UploadError, request_id_of
from .faults import SandboxFaultInjector
from .files import SandboxFiles
from .replays import Replays
from .state import SessionRegistry

_MAX_JSON_BODY = 1 << 20


def build_sandbox_app(
    config: SandboxConfig,
    stats: EmulatorStats | None = None,
    faults: SandboxFaultInjector | None = None,
) -> web.Application:
    """A ready-to-run application serving ``config`` (``stats`` and ``faults`` may be
    passed to watch and steer it while it runs)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else EmulatorStats()
    faults = (
        faults
        if faults is not None
        else SandboxFaultInjector(config.faults, config.seed, config.clock)
    )
    context = SandboxContext(
        config=config,
        stats=stats,
        sessions=SessionRegistry(config),
        replays=Replays(config.idempotency_ttl),
        files=SandboxFiles(config.data_dir),
    )
    errors = SandboxErrors()

    def unauthorized() -> UploadError:
        return UploadError(
            401,
            "Missing or invalid API key; send 'Authorization: Bearer <API key>'",
            code="unauthorized",
        )

    app = web.Application(
        middlewares=[
            middleware.count_requests(stats, api=middleware.everywhere),
            _limit_parts_in_flight,
            middleware.shape_network(NetworkShaper(config.latency)),
            middleware.inject_faults(faults, errors),
            middleware.error_bodies(errors),
            middleware.require_bearer(config.api_key, unauthorized, scope=middleware.everywhere),
        ],
        client_max_size=_MAX_JSON_BODY,
    )
    app[CONTEXT_KEY] = context
    app.on_response_prepare.append(_stamp_request_id)
    handlers.add_routes(app)
    direct.add_routes(app)
    return app


# -- middlewares -------------------------------------------------------------------------


async def _stamp_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer carries ``x-request-id`` (open point 4), injected faults and slow or
    cut bodies included; error bodies echo it."""
    response.headers["x-request-id"] = request_id_of(request)


@web.middleware
async def _limit_parts_in_flight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count a session's part PUTs from arrival to answer (what the client runs at
    once); one beyond its ``max_concurrency`` is 429 ``rate_limit_exceeded``."""
    if route_of(request) != "part":
        return await handler(request)
    ctx = request.app[CONTEXT_KEY]
    session = ctx.sessions.sessions.get(request.match_info["upload_id"])
    if session is None:
        return await handler(request)
    if session.parts_in_flight >= session.max_concurrency:
        return UploadError(
            429,
            f"more than max_concurrency={session.max_concurrency} parts in flight",
            retry_after=1,
        ).to_response(request)
    session.parts_in_flight += 1
    session.max_parts_in_flight = max(session.max_parts_in_flight, session.parts_in_flight)
    try:
        return await handler(request)
    finally:
        session.parts_in_flight -= 1
