"""Client-side pacing of control-plane calls, so bulk work does not storm into 429s.

The Files API documents 100 requests per minute with bursts of 20 per second.  One
limiter per filesystem is shared by all its uploads, and by default by every process of
the machine that uses the same key on the same API (an organisation's limits are the
organisation's, not one process's): a small state file, locked for each request, holds
the times of the latest requests.  ``fs.put`` of a thousand small files, in one process
or eight, paces its calls instead of firing them all and retrying the 429s.

Pacing is two sliding windows (the burst per second and the quota per minute); a
request goes when both have room.  A 429 the server still answers halves the pace; the
pace doubles back for every second without one, so a short burst of 429s costs seconds,
not minutes.  Waiting requests are never booked at the pace of the moment they queued:
each wakes within a short interval, looks at the windows as they are then, and either
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
class _Sent:
    """When the latest requests were sent, the pace factor and the time of the last 429.
    Plain numbers, so it can live in a file."""

    sent: list[float]
    factor: float = 1.0
    throttled_at: float | None = None


class RateLimiter:
    """Paces requests to a :class:`RateLimit`, slowing down after 429s and back up after.

    Each limit is a sliding window, the strictest reading of "N per interval": at most
    ``burst`` requests in any ``burst / per_second`` seconds and at most ``per_minute``
    in any 60 s.  A token bucket would let 40 through in a second (a full bucket plus a
    second's refill) and 120 in a minute; a server counting in windows would answer the
    surplus 429.  The pace factor stretches every window (half the pace: twice as long).

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
        self._windows: list[tuple[int, float]] = []  # (requests, in seconds)
        if limit is not None:
            self._windows.append((limit.burst, limit.burst / limit.per_second))
            if limit.per_minute is not None:
                self._windows.append((max(1, int(limit.per_minute)), 60.0))
        self._memory = _Sent([])
        self.throttled = 0  # 429s reported, for observability

    async def acquire(self) -> None:
        """Wait until one more request may be sent."""
        while self._windows:
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
        """Book a request now, or say how long until every window has room for one."""
        with self._state() as state:
            now = self._clock()
            self._recover(state, now)
            wait = 0.0
            for count, span in self._windows:
                stretched = span / state.factor
                if len(state.sent) >= count:
                    wait = max(wait, state.sent[-count] + stretched - now)
            # A microsecond early is on time: float sums must not wait forever.
            if wait > 1e-6:
                return wait
            keep = max(count for count, _ in self._windows) - 1
            state.sent = [*state.sent[-keep:], now] if keep else [now]
            return 0.0

    def _recover(self, state: _Sent, now: float) -> None:
        if state.throttled_at is not None and state.factor < 1.0:
            calm = now - state.throttled_at
            state.factor = min(1.0, state.factor * 2 ** int(calm / _RECOVERY))
            if state.factor < 1.0 and calm >= _RECOVERY:
                state.throttled_at += _RECOVERY * int(calm / _RECOVERY)

    @contextlib.contextmanager
    def _state(self) -> Iterator[_Sent]:
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

    def _read(self, handle: Any) -> _Sent:
        try:
            state = _Sent(**json.loads(handle.read() or "{}"))
            if not all(isinstance(t, (int, float)) for t in state.sent):
                raise ValueError("not times")
            return state
        except (ValueError, TypeError):
            return _Sent([])


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
