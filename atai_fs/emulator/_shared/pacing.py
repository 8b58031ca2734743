"""Byte pacing: hold a stream to a rate by sleeping, never by spinning."""

from __future__ import annotations

import asyncio
import time

_SLACK = 0.05
"""Seconds of unused link time a stream may catch up on."""


class Pacer:
    """A virtual clock for one link of ``rate`` bytes/s, shareable by concurrent streams.

    Each :meth:`consume` books the next ``n / rate`` seconds of the link and sleeps until
    they have passed, so streams sharing a pacer split its rate between them. An idle
    link banks at most ``_SLACK`` seconds of credit, so a stream's own processing time
    between chunks does not slow it below ``rate``, and bursts stay tiny.
    """

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate
        self._free_at = 0.0

    async def consume(self, n: int) -> None:
        now = time.monotonic()
        self._free_at = max(now - _SLACK, self._free_at) + n / self.rate
        wait = self._free_at - now
        if wait > 0:
            await asyncio.sleep(wait)
