"""The one retry policy used for every API call and every part PUT.

Retries follow the usual cloud-storage rules: transient failures (connection errors,
timeouts, 408, 429, 5xx gateway errors) are retried with exponential backoff and full
jitter, a server's ``Retry-After`` is honoured as a lower bound, and everything else
fails fast so the user sees the real problem at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..errors import AtaiFsError

__all__ = ["RetryPolicy", "parse_retry_after"]

log = logging.getLogger("atai_fs")

T = TypeVar("T")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a transient failure worth another attempt."""
    return isinstance(exc, AtaiFsError) and exc.retryable


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried.

    ``attempts`` counts every try (so 1 means no retry); ``deadline`` bounds the total
    time spent on one operation including waits, so a flapping server cannot hold a
    pipeline forever.  ``max_retry_after`` caps how long a server may ask us to sleep.
    """

    attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 20.0
    deadline: float | None = 900.0
    max_retry_after: float = 120.0
    #: Where time comes from and how it passes (tests inject a virtual clock).
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")

    def backoff(self, retry_number: int, retry_after: float | None = None) -> float:
        """Delay before retry ``retry_number`` (1 for the first retry): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        delay = random.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay

    async def run(self, operation: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run ``operation`` until it succeeds, fails for good, or the budget is spent.

        ``what`` names the operation in debug logs (it must not contain secrets).
        """
        started = self.clock()
        retry_number = 0
        while True:
            try:
                return await operation()
            except AtaiFsError as exc:
                if not exc.retryable:
                    raise
                retry_number += 1
                if retry_number >= self.attempts:
                    raise
                delay = self.backoff(retry_number, exc.retry_after)
                if self.deadline is not None and self.clock() - started + delay > self.deadline:
                    raise
                log.debug(
                    "%s failed (%s); retry %d of %d in %.2fs",
                    what,
                    exc,
                    retry_number,
                    self.attempts - 1,
                    delay,
                )
                await self.sleep(delay)
