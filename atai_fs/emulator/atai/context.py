"""The per-application bundle every handler works on."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .._shared.faults import FaultInjector
from .._shared.ratelimit import RateLimiter
from .._shared.shaping import NetworkShaper
from .._shared.stats import EmulatorStats
from .._shared.storage import PresignedStorage
from .config import EmulatorConfig
from .state import FileIndex, UploadRegistry


@dataclass
class EmulatorContext:
    """Configuration, counters, storage and state of one emulated service."""

    config: EmulatorConfig
    stats: EmulatorStats
    storage: PresignedStorage
    uploads: UploadRegistry
    files: FileIndex
    faults: FaultInjector
    shaper: NetworkShaper
    rate_limiter: RateLimiter | None

    def origin(self, request: web.Request) -> str:
        """Scheme and host for presigned URLs: where the client reached us, unless configured."""
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        return str(request.url.origin())


CONTEXT_KEY = web.AppKey("atai_emulator_context", EmulatorContext)


def context_of(request: web.Request) -> EmulatorContext:
    return request.app[CONTEXT_KEY]
