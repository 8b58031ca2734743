"""Client-side pacing of control-plane calls, so bulk work does not storm into 429s.

The Files API documents 100 requests per minute with bursts of 20 per second.  One
limiter per filesystem is shared by all its uploads, and by default by every process of
the machine that uses the same key on the same API (an organisation's limits are the
organisation's, not one process's): a small state file, locked for each request, holds
the buckets.  ``fs.put`` of a thousand small files, in one process or eight, paces its
calls instead of firing them all and retrying the 429s.

Pacing is two token buckets (the burst per second and the quota per minute); a request
takes a token from each.  A 429 the server still answers halves the pace; the pace
doubles back for every second without one, so a short burst of 429s costs seconds, not
minutes.  Waiting requests are never booked at the pace of the moment they queued:
each wakes within a short interval, looks at the buckets as they are then, and either
goes or waits again, so when the pace recovers the queue follows it.

The limiter is thread-safe and loop-agnostic: waits are ``sleep`` in the caller's own
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RateLimit", "RateLimiter", "shared_state_file"]


@dataclass(frozen=True)
class RateLimit:
    """Allowed control-plane request rate.

    ``per_second`` with ``burst`` bounds the short-term rate (the API's documented
    burst is 20/s); ``per_minute`` (``None`` = unbounded) bounds the sustained rate (the
    documented quota is 100/min, what ``atai://`` paces to by default).
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


#: Longest a waiting request sleeps before looking at the buckets again.
_RECHECK = 0.5
#: How much of the configured pace repeated 429s can take away.
_MIN_FACTOR = 1 / 64
#: Seconds without a 429 after which the pace doubles back.
_RECOVERY = 1.0


@dataclass
class _Buckets:
    """The state of the buckets: tokens per bucket, the time they were counted, the pace
    factor and the time of the last 429.  Plain numbers, so it can live in a file."""

    tokens: list[float]
    counted_at: float
    factor: float = 1.0
    throttled_at: float | None = None


class RateLimiter:
    """Paces requests to a :class:`RateLimit`, slowing down after 429s and back up after.

    ``shared_state`` is a file through which the processes of a machine share one
    budget (``None``: this limiter's own, in memory).
    """

    def __init__(
        self,
        limit: RateLimit | None,
        *,
        shared_state: str | os.PathLike[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``limit=None`` disables pacing (429s are still retried with backoff); ``clock``
        and ``sleep`` are where time comes from (tests inject a virtual clock; a shared
        state uses the wall clock, the only one processes share)."""
        self.limit = limit
        self._clock = time.time if shared_state is not None else clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._file = Path(shared_state) if shared_state is not None else None
        self._rates: list[tuple[float, float]] = []  # (tokens per second, capacity)
        if limit is not None:
            self._rates.append((limit.per_second, float(limit.burst)))
            if limit.per_minute is not None:
                self._rates.append((limit.per_minute / 60.0, float(limit.burst)))
        self._memory = self._full()
        self.throttled = 0  # 429s reported, for observability

    def _full(self) -> _Buckets:
        return _Buckets([capacity for _, capacity in self._rates], self._clock())

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""
        while self._rates:
            wait = self._take()
            if wait <= 0:
                return
            await self._sleep(min(max(wait, 1e-3), _RECHECK))

    def on_throttled(self) -> None:
        """The server answered 429: halve the pace (down to 1/64 of the configured)."""
        self.throttled += 1
        with self._state() as state:
            state.factor = max(_MIN_FACTOR, state.factor / 2)
            state.throttled_at = self._clock()

    def on_success(self) -> None:
        """A request went through (the pace recovers with time; nothing to count)."""

    def _take(self) -> float:
        """Take a token from every bucket, or say how long until one is there."""
        with self._state() as state:
            now = self._clock()
            self._refill(state, now)
            # A millionth of a token short is a token: float sums must not wait forever.
            missing = [gap if (gap := 1.0 - tokens) > 1e-6 else 0.0 for tokens in state.tokens]
            if not any(missing):
                state.tokens = [tokens - 1.0 for tokens in state.tokens]
                return 0.0
            rates = [rate * state.factor for rate, _ in self._rates]
            return max(gap / rate for gap, rate in zip(missing, rates, strict=True))

    def _refill(self, state: _Buckets, now: float) -> None:
        if state.throttled_at is not None and state.factor < 1.0:
            calm = now - state.throttled_at
            state.factor = min(1.0, state.factor * 2 ** int(calm / _RECOVERY))
            if state.factor < 1.0 and calm >= _RECOVERY:
                state.throttled_at += _RECOVERY * int(calm / _RECOVERY)
        elapsed = max(0.0, now - state.counted_at)
        state.tokens = [
            min(capacity, tokens + elapsed * rate * state.factor)
            for tokens, (rate, capacity) in zip(state.tokens, self._rates, strict=True)
        ]
        state.counted_at = now

    @contextlib.contextmanager
    def _state(self) -> Iterator[_Buckets]:
        """The buckets, locked: this limiter's own, or the machine's shared file."""
        with self._lock:
            if self._file is None:
                yield self._memory
                return
            with _locked(self._file) as handle:
                state = self._read(handle)
                yield state
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(state.__dict__))

    def _read(self, handle: Any) -> _Buckets:
        try:
            data = json.loads(handle.read() or "{}")
            state = _Buckets(**data)
            if len(state.tokens) != len(self._rates):
                raise ValueError("another limit")
            return state
        except (ValueError, TypeError):
            return self._full()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Any]:
    """``path`` opened for reading and writing under an exclusive lock (processes of one
    machine take turns; where ``fcntl`` is missing, only the threads of one process)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield handle
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def shared_state_file(endpoint: str, api_key: str | None, directory: Path) -> Path:
    """Where the processes of this machine keep the budget of one key on one API (the
    key is hashed: the file never holds it)."""
    digest = hashlib.sha256(f"{endpoint}|{api_key or ''}".encode()).hexdigest()[:32]
    return directory / f"{digest}.json"
