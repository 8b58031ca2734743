"""Client-side pacing on a virtual clock: bursts, sustained rates, 429 slow-down."""

from __future__ import annotations

import asyncio

import pytest

from atai_fs import RateLimit
from atai_fs.engine.ratelimit import RateLimiter

from .fakes import FakeClock


def paced(limit: RateLimit, calls: int) -> tuple[FakeClock, list[float]]:
    """The virtual times at which ``calls`` requests were let through."""
    clock = FakeClock(start=0.0)
    limiter = RateLimiter(limit, clock=clock, sleep=clock.sleep)
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(clock.now)

    async def many() -> None:
        for _ in range(calls):
            await one()

    asyncio.run(many())
    return clock, times


def test_a_burst_goes_at_once_then_the_rate_holds():
    _, times = paced(RateLimit(per_second=20, burst=20, per_minute=None), 60)
    assert times[:20] == pytest.approx([0.0] * 20)
    assert times[-1] == pytest.approx(2.0)  # 40 more at 20/s


def most_in_any(times: list[float], span: float) -> int:
    """The most requests that fall within any interval of ``span`` seconds."""
    return max(sum(1 for t in times if start <= t < start + span - 1e-9) for start in times)


def test_the_per_minute_quota_paces_the_sustained_rate():
    _, times = paced(RateLimit(per_second=20, burst=20, per_minute=100), 130)
    # The strictest reading of both documented limits holds over every interval...
    assert most_in_any(times, 60.0) <= 100
    assert most_in_any(times, 1.0) <= 20
    # ...and the quota is spent at the burst pace, not dribbled out at 100/60 per second.
    assert times[99] <= 5.0
    assert times[100] == pytest.approx(60.0)


def test_every_429_halves_the_pace_for_a_while():
    clock = FakeClock(start=0.0)
    limit = RateLimit(per_second=10, burst=1, per_minute=None)
    limiter = RateLimiter(limit, clock=clock, sleep=clock.sleep)

    async def scenario() -> float:
        await limiter.acquire()
        limiter.on_throttled()
        await limiter.acquire()
        before = clock.now
        await limiter.acquire()
        return clock.now - before

    assert asyncio.run(scenario()) <= 0.2 + 1e-6  # half of 10/s at most
    assert limiter.throttled == 1


def test_no_limit_means_no_wait():
    clock, times = paced(RateLimit(per_second=1, burst=1), 1)
    assert times == [0.0]
    unpaced = RateLimiter(None, clock=clock, sleep=clock.sleep)
    asyncio.run(unpaced.acquire())
    assert clock.slept == []


def test_the_documented_limits_are_the_files_api_s_default(monkeypatch):
    from atai_fs import ATAIFileSystem

    monkeypatch.delenv("ATAI_RATE_LIMIT", raising=False)
    fs = ATAIFileSystem(api_key="k", skip_instance_cache=True)
    assert fs.rate_limiter.limit == RateLimit(per_second=20, burst=20, per_minute=100)
    assert RateLimit.parse("20/s").per_minute is None


def test_a_short_burst_of_429s_costs_seconds_and_queued_calls_follow_the_recovery():
    clock = FakeClock(start=0.0)
    limit = RateLimit(per_second=20, burst=20, per_minute=None)
    limiter = RateLimiter(limit, clock=clock, sleep=clock.sleep)

    async def scenario() -> float:
        for _ in range(6):  # six 429s: the pace falls to 1/64
            limiter.on_throttled()
        queued = [asyncio.ensure_future(limiter.acquire()) for _ in range(100)]
        await asyncio.gather(*queued)
        return clock.now

    # Booked at 1/64 of 20/s, 100 calls would take 320 s; the pace doubles back every
    # second without a 429, and the queue follows it.
    assert asyncio.run(scenario()) <= 15.0


def test_processes_of_a_machine_share_one_budget(tmp_path):
    state = tmp_path / "limits" / "budget.json"
    limit = RateLimit(per_second=1, burst=5, per_minute=None)
    one, other = (RateLimiter(limit, shared_state=state) for _ in range(2))

    async def burst(limiter: RateLimiter, calls: int) -> None:
        for _ in range(calls):
            await limiter.acquire()

    asyncio.run(burst(one, 5))  # the shared burst is spent...
    assert other._take() > 0  # ...for the other limiter too
    assert oct(state.stat().st_mode & 0o777) == "0o600"
