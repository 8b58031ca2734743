"""The emulated controller API and its object store as one ``aiohttp.web.Application``.

Middlewares, outermost first: count the request; shape the network (latency, PUT
bandwidth); inject a fault if one fires; turn failures on controller routes into Go's
plain-text errors.  Storage routes are the shared presigned storage's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from .._shared.faults import FLOW_API_ROUTES, FaultInjector
from .._shared.injection import apply_fault
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from .._shared.storage import PresignedStorage
from .config import API_PREFIX, FlowEmulatorConfig
from .definition import FlowInvalid, parse_request
from .runs import ZERO_RUN, FlowStore, RunRegistry

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclasses.dataclass
class FlowContext:
    config: FlowEmulatorConfig
    stats: EmulatorStats
    faults: FaultInjector
    shaper: NetworkShaper
    store: FlowStore
    runs: RunRegistry

    def origin(self, request: web.Request) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        return str(request.url.origin())


FLOW_CONTEXT_KEY = web.AppKey("atai_flow_emulator_context", FlowContext)


def build_flow_app(
    config: FlowEmulatorConfig,
    stats: EmulatorStats | None = None,
    faults: FaultInjector | None = None,
) -> web.Application:
    """A ready-to-run application serving ``config`` (pass ``stats``/``faults`` to watch
    and steer it while it runs)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else EmulatorStats()
    faults = faults if faults is not None else FaultInjector(config.faults, config.seed)
    storage = PresignedStorage(config.data_dir / "objects", config.signing_secret, stats)
    store = FlowStore(storage, config.max_object_size)
    context = FlowContext(
        config=config,
        stats=stats,
        faults=faults,
        shaper=NetworkShaper(config.latency, config.put_bandwidth, config.link_bandwidth),
        store=store,
        runs=RunRegistry(
            store,
            url_lifetime=config.url_lifetime,
            on_expiry=config.on_expiry,
            purge=config.purge_finished,
        ),
    )
    app = web.Application(
        middlewares=[_count_requests, _shape_network, _inject_faults, _plain_errors],
        client_max_size=16 * 1024 * 1024,
    )
    app[FLOW_CONTEXT_KEY] = context
    storage.add_routes(app)
    app.router.add_post(f"{API_PREFIX}/flow/test", _flow_test, name="flow_test")
    app.router.add_get(f"{API_PREFIX}/flow/status/{{run_id}}", _flow_status, name="flow_status")
    if config.detect_interval > 0:
        app.cleanup_ctx.append(_scheduler)
    return app


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    """The controller's periodic pass over every run (when ``detect_interval`` > 0)."""
    context = app[FLOW_CONTEXT_KEY]

    async def loop() -> None:
        while True:
            await asyncio.sleep(context.config.detect_interval)
            context.runs.step_all()

    task = asyncio.ensure_future(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# -- responses -------------------------------------------------------------------------------


def text_error(status: int, message: str) -> web.Response:
    """Go's ``http.Error``: the message and a newline, as UTF-8 plain text."""
    response = web.Response(status=status, text=message + "\n", content_type="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _error(context: FlowContext, status: int, message: str) -> web.Response:
    if context.config.error_style == "docs":
        return web.json_response({"error": message}, status=status)
    return text_error(status, message)


def _run_json(payload: object) -> web.Response:
    return web.Response(
        text=json.dumps(payload) + "\n", content_type="application/json", charset="utf-8"
    )


# -- handlers ------------------------------------------------------------------------------


async def _flow_test(request: web.Request) -> web.StreamResponse:
    context = request.app[FLOW_CONTEXT_KEY]
    try:
        body = json.loads(await request.read())
        flow, _ = parse_request(body)
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, FlowInvalid):
            return _error(context, 500, f"unable to run flow: {exc}")
        return _error(context, 400, "Invalid input")
    try:
        run = context.runs.create(flow, context.origin(request))
    except FlowInvalid as exc:
        return _error(context, 500, f"unable to run flow: {exc}")
    return _run_json(run.to_json())


async def _flow_status(request: web.Request) -> web.StreamResponse:
    context = request.app[FLOW_CONTEXT_KEY]
    run = context.runs.visible(request.match_info["run_id"])
    if run is not None and context.config.detect_interval == 0:
        context.runs.step(run)
        if run.purged:
            run = None
    if run is None:
        style = context.config.error_style
        if style == "docs":
            return web.json_response({"error": "Flow run does not exist."}, status=404)
        response = text_error(400, "Flow run does not exist.")
        if style == "code":
            # The handler does not return after http.Error: the zero-value run follows.
            response.text = response.text + json.dumps(ZERO_RUN, separators=(",", ":")) + "\n"
        return response
    return _run_json(run.to_json())


# -- middlewares -----------------------------------------------------------------------------


def _is_api(request: web.Request) -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


@web.middleware
async def _count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    stats = request.app[FLOW_CONTEXT_KEY].stats
    stats.count_request(request.match_info.route.name, api=_is_api(request))
    return await handler(request)


@web.middleware
async def _shape_network(request: web.Request, handler: Handler) -> web.StreamResponse:
    await request.app[FLOW_CONTEXT_KEY].shaper.shape(request)
    return await handler(request)


@web.middleware
async def _inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name
    fault = request.app[FLOW_CONTEXT_KEY].faults.pick(route)
    if fault is None:
        return await handler(request)
    if fault.action == "status" and fault.body is None and route in FLOW_API_ROUTES:
        # The controller's errors are plain text, not the Files API's envelope.
        fault = dataclasses.replace(fault, body=f"Injected fault: {fault.status}\n")
    return await apply_fault(request, handler, fault)


@web.middleware
async def _plain_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            return text_error(404, "404 page not found")
        if exc.status == 405:
            return web.Response(status=405)  # the router's default: no body
        raise
    except ConnectionError:
        raise
    except Exception:
        logger.exception("flow emulator error on %s %s", request.method, request.path)
        return text_error(500, "the emulator failed; see its log")
