"""The per-application bundle the controller's handlers work on."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .config import FlowEmulatorConfig
from .runs import RunRegistry
from .store import FlowStore


@dataclass
class FlowContext:
    """Configuration, object store and runs of one emulated controller."""

    config: FlowEmulatorConfig
    store: FlowStore
    runs: RunRegistry


CONTEXT_KEY = web.AppKey("atai_flow_emulator_context", FlowContext)


def context_of(request: web.Request) -> FlowContext:
    return request.app[CONTEXT_KEY]
