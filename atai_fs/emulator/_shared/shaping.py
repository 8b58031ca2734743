"""Network shaping: make loopback behave like a distant service.

``latency`` is added before every request (API calls and storage alike). Storage PUT
bodies are read through pacers: one per PUT (``put_bandwidth``, a single TCP path) and
one shared by every PUT (``link_bandwidth``, the site's uplink). See :mod:`.pacing`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from .pacing import Pacer
from .storage import PUT_ROUTE
from .transfer import plan_of


@dataclass
class NetworkShaper:
    """Latency and bandwidth caps of one emulator; all off when left at their defaults."""

    latency: float = 0.0
    put_bandwidth: float | None = None
    link_bandwidth: float | None = None
    _link: Pacer | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if self.link_bandwidth is not None:
            self._link = Pacer(self.link_bandwidth)

    def pacers_for_put(self) -> list[Pacer]:
        """A fresh per-PUT pacer and the shared link pacer, for the caps that are set."""
        pacers = [Pacer(self.put_bandwidth)] if self.put_bandwidth is not None else []
        if self._link is not None:
            pacers.append(self._link)
        return pacers

    async def shape(self, request: web.Request) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        if request.match_info.route.name == PUT_ROUTE:
            plan_of(request).read_pacers.extend(self.pacers_for_put())
