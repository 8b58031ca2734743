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

from ..advice import pass_options
from ..errors import AtaiFsError, ConnectError

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
    """How patiently transient failures are retried: in time, not in tries.

    A transient failure (connection lost, timeout, 408, 429, 5xx) is retried with capped
    exponential backoff and full jitter for up to ``deadline`` seconds after the first
    failure, so an outage of a minute in the middle of a long upload is waited out
    instead of failing it (the default, 300 s).  ``attempts`` optionally caps the tries
    as well (``None``: as many as the deadline allows).  A server's ``Retry-After`` is
    honoured in full; one asking for a wait beyond what is left of the deadline (an
    hourly quota) fails at once, naming the wait.  The error finally raised says how
    often and how long it was tried.
    """

    deadline: float | None = 300.0
    attempts: int | None = None
    base_delay: float = 0.25
    max_delay: float = 30.0
    #: Where time comes from and how it passes (tests inject a virtual clock).
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1 (or None)")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must not be negative")
        if self.deadline is not None and self.deadline < 0:
            raise ValueError("RetryPolicy.deadline must not be negative (or None)")

    def backoff(self, retry_number: int, retry_after: float | None = None) -> float:
        """Delay before retry ``retry_number`` (1 for the first retry): full jitter, at
        least what the server asked for."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(retry_number - 1, 60)))
        delay = random.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    async def run(self, operation: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Run ``operation`` until it succeeds, fails for good, or the patience is spent.

        ``what`` names the operation in messages (it must not contain secrets).
        """
        first_failure: float | None = None
        tries = 0
        while True:
            tries += 1
            try:
                return await operation()
            except AtaiFsError as exc:
                if not exc.retryable:
                    raise
                now = self.clock()
                if first_failure is None:
                    first_failure = now
                spent = now - first_failure
                delay = self.backoff(tries, exc.retry_after)
                left = None if self.deadline is None else self.deadline - spent
                if exc.retry_after is not None and left is not None and exc.retry_after > left:
                    raise exc.after_retries(
                        tries,
                        spent,
                        f"the server asks to retry after {_duration(exc.retry_after)}, "
                        f"beyond the retry deadline ({_duration(self.deadline or 0)}); nothing "
                        "was left waiting",
                    ) from exc
                out_of_tries = self.attempts is not None and tries >= self.attempts
                if out_of_tries or (left is not None and delay > left):
                    if tries == 1:
                        raise
                    raise exc.after_retries(tries, spent) from exc
                log.debug("%s failed (%s); try %d in %.2fs", what, exc, tries + 1, delay)
                if tries == 2 and isinstance(exc, ConnectError):
                    self._say_still_trying(exc, tries, left)
                await self.sleep(delay)

    def _say_still_trying(self, exc: ConnectError, tries: int, left: float | None) -> None:
        """One warning when a call could not connect twice running: a wrong endpoint or
        port would otherwise look like a hang for the whole deadline."""
        bounds = [] if left is None else [f"for up to {_duration(left)}"]
        if self.attempts is not None:
            more = self.attempts - tries
            bounds.append(f"at most {more} more {'try' if more == 1 else 'tries'}")
        log.warning(
            "%s; retrying %s (%s to give up sooner)",
            exc,
            ", ".join(bounds) or "without a deadline",
            pass_options(("retry", "deadline=30")),
        )


def _duration(seconds: float) -> str:
    """``"45 s"``, ``"12 minutes"``, ``"2.0 hours"``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"
