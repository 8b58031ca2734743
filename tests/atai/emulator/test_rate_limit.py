"""Rate limiting as documented (quick reference): 100 requests/min, bursts of 20/s."""

from __future__ import annotations

import asyncio

from atai_fs.emulator._shared.ratelimit import RateLimiter


async def info_statuses(api, n: int) -> list[int]:
    return [(await api.call("GET", "files/info"))[0] for _ in range(n)]


async def test_rate_limit_is_off_by_default(emulator, open_api):
    async with open_api() as api:
        assert set(await info_statuses(api, 40)) == {200}
    assert emulator.stats.rate_limited == 0


async def test_burst_over_the_limit_gets_429_with_retry_after(make_emulator, open_api):
    emulator = make_emulator(rate_limit=True)
    async with open_api(emulator) as api:
        assert set(await info_statuses(api, 20)) == {200}
        async with api.session.get(api.url("files/info"), headers=api.auth) as r:
            body = await r.json()
    assert r.status == 429
    assert r.headers["Retry-After"] == "1"
    assert api.codes(body) == ["RATE_LIMIT_EXCEEDED"]
    assert emulator.stats.rate_limited == 1


async def test_rate_limited_client_recovers_after_retry_after(make_emulator, open_api):
    emulator = make_emulator(rate_limit=True, rate_limit_burst_per_second=5)
    async with open_api(emulator) as api:
        assert await info_statuses(api, 6) == [200] * 5 + [429]
        await asyncio.sleep(1.0)
        assert set(await info_statuses(api, 5)) == {200}


async def test_sustained_rate_is_per_minute_with_a_long_retry_after(make_emulator, open_api):
    emulator = make_emulator(rate_limit=True, rate_limit_per_minute=6)
    async with open_api(emulator) as api:
        assert await info_statuses(api, 7) == [200] * 6 + [429]
        status, _ = await api.call("GET", "files/info")
        async with api.session.get(api.url("files/info"), headers=api.auth) as r:
            retry_after = int(r.headers["Retry-After"])
    assert status == 429
    assert 8 <= retry_after <= 10  # one token per 10 s


async def test_storage_puts_are_not_rate_limited(make_emulator, open_api):
    emulator = make_emulator(rate_limit=True, rate_limit_burst_per_second=2)
    async with open_api(emulator) as api:
        init = await api.initiate("many.csv", 10)
        for _ in range(5):
            assert (await api.put(init["parts"][0]["url"], b"x" * 10)).status == 200


def test_token_buckets_refill_at_their_rates():
    now = [0.0]
    limiter = RateLimiter(per_minute=100, burst_per_second=20, clock=lambda: now[0])
    granted = []
    for second in range(6):
        now[0] = float(second)
        granted.append(sum(limiter.acquire() == 0 for _ in range(50)))
    # 20 per second until the minute bucket (100, refilled 100/60 per second) runs dry.
    assert granted == [20, 20, 20, 20, 20, 8]
    assert 0.35 < limiter.acquire() < 0.45  # the minute bucket's next token
