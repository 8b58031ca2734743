"""The documented rate limit: 100 requests/min with bursts of up to 20 requests/s.

Two token buckets, both of which must hold a token for a request to pass: a minute
bucket (capacity ``per_minute``, refilled at ``per_minute / 60`` per second) bounds the
sustained rate, a second bucket (capacity ``burst_per_second``, refilled at that many
per second) bounds bursts. A refused request takes no token. One limiter per emulator
(one org); only API requests count, storage URLs are not limited.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class _Bucket:
    def __init__(self, capacity: float, per_second: float, now: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.updated = now

    def wait_for_one(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second


class RateLimiter:
    """Admits requests within ``per_minute`` and ``burst_per_second``; not thread-safe
    (it lives on the server loop)."""

    def __init__(
        self,
        per_minute: float = 100,
        burst_per_second: float = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not per_minute > 0 or not burst_per_second > 0:
            raise ValueError("rate limits must be positive")
        self._clock = clock
        now = clock()
        self._buckets = (
            _Bucket(per_minute, per_minute / 60, now),
            _Bucket(burst_per_second, burst_per_second, now),
        )

    def acquire(self) -> float:
        """0 if the request may pass (a token is taken), else seconds until it could."""
        now = self._clock()
        for bucket in self._buckets:
            bucket.refill(now)
        wait = max(b.wait_for_one() for b in self._buckets)
        if wait > 0:
            return wait
        for bucket in self._buckets:
            bucket.tokens -= 1
        return 0.0


def retry_after_seconds(wait: float) -> int:
    """``Retry-After`` in whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(wait))
