"""Network shaping: latency on every request, bandwidth caps per PUT and per link.

Lower bounds only: a loaded machine may be slower, never faster.
"""

from __future__ import annotations

import asyncio
import os
import time

MB = 1_000_000


async def timed(coro) -> float:
    start = time.monotonic()
    await coro
    return time.monotonic() - start


async def test_latency_is_added_to_api_calls_and_storage_puts(make_emulator, open_api):
    emulator = make_emulator(latency=0.1)
    async with open_api(emulator) as api:
        api_time = await timed(api.ok("GET", "files/info"))
        init = await api.initiate("lat.csv", 10)
        put_time = await timed(api.put(init["parts"][0]["url"], b"x" * 10))
    assert api_time >= 0.09
    assert put_time >= 0.09


async def test_put_bandwidth_caps_one_put(make_emulator, open_api):
    emulator = make_emulator(part_size=2 * MB, put_bandwidth=4 * MB)
    data = os.urandom(2 * MB)
    async with open_api(emulator) as api:
        init = await api.initiate("cap.bin", len(data))
        elapsed = await timed(api.put_part(init["parts"][0], data))
    assert elapsed >= 0.4  # 2 MB at 4 MB/s is 0.5 s


async def test_link_bandwidth_is_shared_by_concurrent_puts(make_emulator, open_api):
    emulator = make_emulator(part_size=1 * MB, link_bandwidth=4 * MB)
    data = os.urandom(2 * MB)
    async with open_api(emulator) as api:
        init = await api.initiate("link.bin", len(data))
        one_alone = await timed(api.put_part(init["parts"][0], data))
        both = await timed(asyncio.gather(*(api.put_part(p, data) for p in init["parts"])))
    assert one_alone >= 0.15  # 1 MB at 4 MB/s is 0.25 s
    assert both >= 0.4  # 2 MB through the same 4 MB/s link is 0.5 s
    assert emulator.stats.max_puts_in_flight == 2


async def test_shaping_is_off_by_default(emulator, open_api):
    data = os.urandom(2 * MB)
    async with open_api() as api:
        elapsed = await timed(api.upload("fast.bin", data))
    assert elapsed < 5  # generous: only catches a cap switched on by mistake
