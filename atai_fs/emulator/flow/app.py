"""The emulated controller API and its object store as one ``aiohttp.web.Application``.

Middlewares, outermost first: count the request; refuse a ``Host`` that is not the
emulator's; shape the network (latency, PUT bandwidth); inject a fault if one fires;
turn failures into Go's plain-text errors on the controller's paths, into S3 XML on the
object store's; close the connection of a body that stalls.  Storage routes are the
shared presigned storage's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from .._shared import guards, middleware
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from .._shared.storage import ROUTE_PREFIX as STORAGE_PREFIX
from .._shared.storage import PresignedStorage
from . import handlers
from .config import API_PREFIX, FlowEmulatorConfig
from .context import CONTEXT_KEY, FlowContext
from .errors import ControllerErrors
from .faults import FlowFaultInjector
from .runs import RunRegistry
from .store import FlowStore


def build_flow_app(
    config: FlowEmulatorConfig,
    stats: EmulatorStats | None = None,
    faults: FlowFaultInjector | None = None,
) -> web.Application:
    """A ready-to-run application serving ``config`` (pass ``stats``/``faults`` to watch
    and steer it while it runs)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    stats = stats if stats is not None else EmulatorStats()
    faults = (
        faults
        if faults is not None
        else FlowFaultInjector(config.faults, config.seed, config.clock)
    )
    storage = PresignedStorage(config.data_dir / "objects", config.signing_secret, stats)
    store = FlowStore(storage, config.max_object_size)
    runs = RunRegistry(
        store,
        url_lifetime=config.url_lifetime,
        on_expiry=config.on_expiry,
        purge=config.purge_finished,
    )
    errors = ControllerErrors()
    api = middleware.under(API_PREFIX)
    app = web.Application(
        middlewares=[
            middleware.count_requests(stats, api=api),
            guards.check_host(errors, config.public_url, storage_prefix=STORAGE_PREFIX),
            middleware.shape_network(
                NetworkShaper(config.latency, config.put_bandwidth, config.link_bandwidth)
            ),
            middleware.inject_faults(faults, errors),
            middleware.error_bodies(errors, scope=api),
            guards.bound_body_stalls(config.body_timeout),
        ],
        client_max_size=config.max_json_body,
    )
    app[CONTEXT_KEY] = FlowContext(config=config, store=store, runs=runs)
    storage.add_routes(app)
    handlers.add_routes(app, API_PREFIX)
    if config.detect_interval > 0:
        app.cleanup_ctx.append(_scheduler)
    return app


async def _scheduler(app: web.Application) -> AsyncIterator[None]:
    """The controller's periodic pass over every run (when ``detect_interval`` > 0)."""
    context = app[CONTEXT_KEY]

    async def loop() -> None:
        while True:
            await asyncio.sleep(context.config.detect_interval)
            context.runs.step_all()

    task = asyncio.ensure_future(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
