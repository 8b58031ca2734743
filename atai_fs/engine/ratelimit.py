"""Client-side pacing of control-plane calls, so bulk work does not storm into 429s.

The Files API documents 100 requests per minute with bursts of 20 per second.  One
limiter per filesystem instance is shared by all its uploads: ``fs.put`` of a thousand
small files paces its initiate/complete calls instead of firing them all and retrying
the 429s.  Pacing follows the generic cell rate algorithm (a token bucket without a
timer), and every 429 the server still answers halves the allowed rate for a while
(multiplicative decrease), recovering gradually on success (additive increase).

The limiter is thread-safe and loop-agnostic: reservations are plain arithmetic under a
lock, waits are ``asyncio.sleep`` in the caller's own loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["RateLimit", "RateLimiter"]


@dataclass(frozen=True)
class RateLimit:
    """Allowed control-plane request rate.

    ``per_second`` with ``burst`` bounds short-term rate (the API's documented burst is
    20/s); ``per_minute`` (``None`` = unbounded) bounds the sustained rate: set it to 100
    to stay under the API's documented default quota at all times, at the price of
    pacing bulk operations to that quota.
    """

    per_second: float = 20.0
    burst: int = 20
    per_minute: float | None = None

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """Read ``"20/s"``, ``"20/s,100/min"``, ``"10/s,burst=5"`` or ``"off"`` (no pacing)."""
        text = text.strip().lower()
        if text in ("off", "none", "0", "false"):
            return None
        fields: dict[str, float] = {}
        for item in filter(None, (piece.strip() for piece in text.split(","))):
            try:
                if item.startswith("burst="):
                    fields["burst"] = int(item.removeprefix("burst="))
                elif item.endswith("/s"):
                    fields["per_second"] = float(item.removesuffix("/s"))
                elif item.endswith("/min"):
                    fields["per_minute"] = float(item.removesuffix("/min"))
                else:
                    raise ValueError(item)
            except ValueError:
                raise ValueError(
                    f"cannot read rate limit {text!r}: use e.g. '20/s', '20/s,100/min', "
                    "'10/s,burst=5' or 'off'"
                ) from None
        return cls(**fields)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("RateLimit needs per_second > 0 and burst >= 1")
        if self.per_minute is not None and self.per_minute <= 0:
            raise ValueError("RateLimit.per_minute must be positive (or None)")


class _Cell:
    """One GCRA constraint: ``rate`` per second with ``burst`` requests of tolerance."""

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.theoretical_arrival = 0.0

    def delay(self, now: float) -> float:
        arrival = max(self.theoretical_arrival, now)
        return max(0.0, arrival - self.tolerance - now)

    def commit(self, at: float, interval: float) -> None:
        self.theoretical_arrival = max(self.theoretical_arrival, at) + interval


class RateLimiter:
    """Paces requests to a :class:`RateLimit`, slowing down further after 429s."""

    #: Lowest fraction of the configured rate that repeated 429s can push us to.
    MIN_FACTOR = 1 / 64

    def __init__(
        self,
        limit: RateLimit | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``limit=None`` disables pacing (429s are still retried with backoff); ``clock``
        and ``sleep`` are where time comes from (tests inject a virtual clock)."""
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._cells: list[_Cell] = []
        if limit is not None:
            self._cells.append(_Cell(limit.per_second, limit.burst))
            if limit.per_minute is not None:
                self._cells.append(_Cell(limit.per_minute / 60.0, limit.burst))
        self._factor = 1.0
        self.throttled = 0  # 429s reported, for observability

    def _reserve(self) -> float:
        """Book the next slot and return how long to wait for it."""
        if not self._cells:
            return 0.0
        with self._lock:
            now = self._clock()
            intervals = [cell.interval / self._factor for cell in self._cells]
            wait = max(cell.delay(now) for cell in self._cells)
            for cell, interval in zip(self._cells, intervals, strict=True):
                cell.commit(now + wait, interval)
            return wait

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""
        wait = self._reserve()
        if wait > 0:
            await self._sleep(wait)

    def on_throttled(self) -> None:
        """The server answered 429: halve the rate (down to ``MIN_FACTOR``)."""
        with self._lock:
            self.throttled += 1
            self._factor = max(self.MIN_FACTOR, self._factor / 2)

    def on_success(self) -> None:
        """A request went through: recover a little of the configured rate."""
        if self._factor < 1.0:
            with self._lock:
                self._factor = min(1.0, self._factor + 1 / 32)
