"""Fault injection: every action on an API route and on a storage PUT, triggering, parsing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time

import aiohttp
import pytest
from yarl import URL

from atai_fs.emulator import ATAIEmulator, Fault, format_fault, parse_fault
from tests.support.clock import ManualClock

INITIATE = {"filename": "f.csv", "file_type": "text/csv", "num_bytes": 10}


async def initiate_raw(api) -> tuple[int, dict[str, str], bytes]:
    async with api.session.post(
        api.url("files/uploads/initiate"), json=INITIATE, headers=api.auth
    ) as r:
        return r.status, dict(r.headers), await r.read()


async def put_raw(api, url: str, data: bytes) -> tuple[int, dict[str, str], bytes]:
    async with api.session.put(URL(url, encoded=True), data=data) as r:
        return r.status, dict(r.headers), await r.read()


async def raw_put(url: str, data: bytes) -> bytes:
    """A PUT over a bare socket: what came back before the connection ended.

    (aiohttp's client silently retries an idempotent request once after a reset.)
    """
    target = URL(url, encoded=True)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    head = (
        f"PUT {target.raw_path_qs} HTTP/1.1\r\nHost: {target.authority}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    try:
        writer.write(head.encode() + data)
        await writer.drain()
        return await reader.read()
    except ConnectionError:
        return b""
    finally:
        writer.close()


# -- status ------------------------------------------------------------------------------
async def test_status_on_api_route_answers_the_error_envelope_with_retry_after(emulator, open_api):
    emulator.faults.add(route="initiate", status=503, retry_after=2, times=1)
    async with open_api() as api:
        status, headers, body = await initiate_raw(api)
        assert (await initiate_raw(api))[0] == 200
    assert status == 503
    assert headers["Retry-After"] == "2"
    [error] = json.loads(body)["errors"]
    assert error["error_uid"].startswith("err-")
    assert emulator.uploads and len(emulator.uploads) == 1  # the faulted request did nothing


async def test_status_on_storage_put_answers_s3_xml_and_stores_nothing(emulator, open_api):
    retry_date = "Wed, 21 Oct 2015 07:28:00 GMT"
    emulator.faults.add(route="storage_put", status=503, retry_after=retry_date, times=1)
    data = os.urandom(256 * 1024)
    async with open_api() as api:
        init = await api.initiate("s.bin", len(data))
        url = init["parts"][0]["url"]
        status, headers, body = await put_raw(api, url, data[: init["parts"][0]["length"]])
        assert (await api.put(url, data[: init["parts"][0]["length"]])).status == 200
    assert status == 503
    assert headers["Retry-After"] == retry_date
    assert b"<Code>SlowDown</Code>" in body
    assert emulator.stats.part_puts == 1


async def test_status_with_body_override_sends_that_body(emulator, open_api):
    page = "<html><body>502 Bad Gateway</body></html>"
    emulator.faults.add(route="info", status=502, body=page)
    async with open_api() as api:
        status, body = await api.call("GET", "files/info")
    assert status == 502
    assert body == page.encode()  # not the JSON envelope


# -- reset -------------------------------------------------------------------------------
async def test_reset_on_api_route_with_body_drops_the_connection_unhandled(emulator, open_api):
    emulator.faults.add(route="initiate", action="reset", times=1)
    async with open_api() as api:
        with pytest.raises(aiohttp.ClientError):
            await initiate_raw(api)
        assert (await initiate_raw(api))[0] == 200
    assert len(emulator.uploads) == 1


async def test_reset_on_api_route_without_body_cuts_the_response(emulator, open_api):
    emulator.faults.add(route="metadata_list", action="reset", times=1)
    async with open_api() as api:
        await api.upload("a.csv", b"12345")
        with pytest.raises(aiohttp.ClientError):
            await api.call("GET", "files/metadata")
        assert len(await api.ok("GET", "files/metadata")) == 1


async def test_reset_on_storage_put_mid_body_stores_nothing(emulator, open_api):
    emulator.faults.add(route="storage_put", action="reset", times=1)
    data = os.urandom(512 * 1024)
    async with open_api() as api:
        init = await api.initiate("r.bin", len(data))
        part = init["parts"][0]
        assert await raw_put(part["url"], data[: part["length"]]) == b""
        assert (await api.put(part["url"], data[: part["length"]])).status == 200
    assert emulator.stats.part_puts == 1


async def test_reset_on_download_cuts_the_body(emulator, open_api):
    emulator.faults.add(route="download", action="reset", nth=1)
    async with open_api() as api:
        await api.upload("d.bin", os.urandom(300_000))
        with pytest.raises(aiohttp.ClientError):
            await api.download("d.bin")
        assert len(await api.download("d.bin")) == 300_000


# -- slow and latency --------------------------------------------------------------------
async def test_slow_api_response_takes_the_delay(emulator, open_api):
    emulator.faults.add(route="info", action="slow", delay=0.3)
    async with open_api() as api:
        start = time.monotonic()
        body = await api.ok("GET", "files/info")
    assert time.monotonic() - start >= 0.25
    assert body["num_files"] == 0


async def test_slow_storage_put_receives_the_body_over_the_delay(emulator, open_api):
    emulator.faults.add(route="storage_put", action="slow", delay=0.3)
    data = os.urandom(64 * 1024)
    async with open_api() as api:
        init = await api.initiate("slow.bin", len(data))
        start = time.monotonic()
        tokens = [await api.put_part(p, data) for p in init["parts"]]
        elapsed = time.monotonic() - start
        assert (await api.complete(init["upload_id"], tokens))[0] == 200
    assert elapsed >= 0.25


@pytest.mark.parametrize("route", ["info", "storage_put"])
async def test_latency_delays_the_request(emulator, open_api, route):
    emulator.faults.add(route=route, action="latency", delay=0.3)
    async with open_api() as api:
        init = await api.initiate("lat.csv", 10)
        start = time.monotonic()
        if route == "info":
            await api.ok("GET", "files/info")
        else:
            await api.put_part(init["parts"][0], b"x" * 10)
    assert time.monotonic() - start >= 0.28


# -- damaged JSON ------------------------------------------------------------------------
async def test_malformed_json_is_200_with_a_non_json_body(emulator, open_api):
    emulator.faults.add(route="initiate", action="malformed_json", times=1)
    async with open_api() as api:
        status, _, body = await initiate_raw(api)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)
    assert len(emulator.uploads) == 1  # the handler ran: the client cannot know the upload_id


async def test_truncated_json_is_the_first_half_of_the_real_body(emulator, open_api):
    emulator.faults.add(route="info", action="truncated_json", times=1)
    async with open_api() as api:
        async with api.session.get(api.url("files/info"), headers=api.auth) as r:
            cut = await r.read()
        whole = json.dumps(await api.ok("GET", "files/info"))
    assert r.status == 200
    assert cut.startswith(b'{"num_files": 0')
    with pytest.raises(ValueError):
        json.loads(cut)
    assert len(cut) < len(whole)


# -- storage-only actions ----------------------------------------------------------------
async def test_wrong_etag_stores_the_part_but_answers_another_etag(emulator, open_api):
    emulator.faults.add(route="storage_put", action="wrong_etag", times=1)
    data = b"0123456789"
    async with open_api() as api:
        init = await api.initiate("etag.csv", len(data))
        token = await api.put_part(init["parts"][0], data)
        status, body = await api.complete(init["upload_id"], [token])
        assert status == 400
        assert api.codes(body) == ["invalid_part_token"]
        real = {"part_number": 1, "part_token": f'"{hashlib.md5(data).hexdigest()}"'}
        assert (await api.complete(init["upload_id"], [real]))[0] == 200
    assert token["part_token"] != real["part_token"]


async def test_expire_url_answers_403_request_has_expired_on_a_valid_url(emulator, open_api):
    emulator.faults.add(route="storage_put", action="expire_url", times=1)
    async with open_api() as api:
        init = await api.initiate("exp.csv", 10)
        status, _, body = await put_raw(api, init["parts"][0]["url"], b"x" * 10)
        assert (await api.put(init["parts"][0]["url"], b"x" * 10)).status == 200
    assert status == 403
    assert b"AccessDenied" in body and b"Request has expired" in body


@pytest.mark.parametrize(
    ("route", "action"),
    [
        ("initiate", "wrong_etag"),
        ("complete", "expire_url"),
        ("storage_put", "malformed_json"),
        ("download", "truncated_json"),
        ("abort", "malformed_json"),
    ],
)
def test_fault_on_a_route_it_cannot_apply_to_is_rejected_at_add(route, action):
    emulator = ATAIEmulator()
    with pytest.raises(ValueError, match="does not apply"):
        emulator.faults.add(route=route, action=action)


# -- triggering --------------------------------------------------------------------------
async def statuses(api, n: int) -> list[int]:
    return [(await api.call("GET", "files/info"))[0] for _ in range(n)]


async def test_times_fires_on_the_next_n_matching_requests(emulator, open_api):
    fault = emulator.faults.add(route="info", status=500, times=2)
    async with open_api() as api:
        assert await statuses(api, 4) == [500, 500, 200, 200]
    assert emulator.faults.fired == {fault: 2}
    assert emulator.faults.faults == []  # exhausted


async def test_nth_fires_only_on_the_kth_matching_request(emulator, open_api):
    emulator.faults.add(route="info", status=500, nth=3)
    async with open_api() as api:
        await api.ok("GET", "files/metadata")  # another route: not counted
        assert await statuses(api, 4) == [200, 200, 500, 200]


async def test_star_matches_only_the_routes_the_action_applies_to(emulator, open_api):
    fault = emulator.faults.add(route="*", action="wrong_etag")
    data = b"x" * 10
    async with open_api() as api:
        init = await api.initiate("star.csv", len(data))  # an API route: untouched
        token = await api.put_part(init["parts"][0], data)
    assert token["part_token"] != f'"{hashlib.md5(data).hexdigest()}"'
    assert emulator.faults.fired == {fault: 1}


async def test_probability_with_the_same_seed_reproduces_the_failures(make_emulator, open_api):
    patterns = []
    for _ in range(2):
        emulator = make_emulator(seed=7, faults=["route=info,status=503,probability=0.5"])
        async with open_api(emulator) as api:
            patterns.append(await statuses(api, 30))
    assert patterns[0] == patterns[1]
    assert 5 < patterns[0].count(503) < 25


async def test_probability_with_times_is_capped(emulator, open_api):
    emulator.faults.add(route="info", status=503, probability=0.9, times=3)
    async with open_api() as api:
        assert (await statuses(api, 30)).count(503) == 3


async def test_clear_removes_faults_while_serving(emulator, open_api):
    emulator.faults.add(route="info", status=500)
    async with open_api() as api:
        assert await statuses(api, 2) == [500, 500]
        emulator.faults.clear()
        assert await statuses(api, 1) == [200]
    assert emulator.faults.fired == {}


async def test_a_window_makes_a_fault_active_from_start_for_duration(make_emulator, open_api):
    clock = ManualClock()
    emulator = make_emulator(clock=clock)
    fault = emulator.faults.add(route="info", status=503, start=10, duration=5)
    async with open_api(emulator) as api:
        seen = []
        for moment in (0, 9.9, 10, 14.9, 15, 100):
            clock.now = 1000.0 + moment
            seen += await statuses(api, 1)
    assert seen == [200, 200, 503, 503, 200, 200]
    assert emulator.faults.fired == {fault: 2}
    assert emulator.faults.faults == []  # its window is over


async def test_initial_faults_count_their_window_from_the_emulator_start(make_emulator, open_api):
    clock = ManualClock()
    emulator = ATAIEmulator(clock=clock, faults=["route=info,status=500,duration=5"])
    clock.now += 60  # created long before it starts: the window has not begun yet
    emulator.start()
    try:
        async with open_api(emulator) as api:
            assert await statuses(api, 1) == [500]
            clock.now += 5
            assert await statuses(api, 1) == [200]
    finally:
        emulator.stop()


async def test_triggers_count_only_requests_inside_the_window(make_emulator, open_api):
    clock = ManualClock()
    emulator = make_emulator(clock=clock)
    emulator.faults.add(route="info", status=500, nth=2, start=5)
    async with open_api(emulator) as api:
        before = await statuses(api, 3)  # outside the window: not counted
        clock.now += 5
        inside = await statuses(api, 3)
    assert (before, inside) == ([200, 200, 200], [200, 500, 200])


# -- parse_fault -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fault",
    [
        Fault(route="storage_put", status=503, probability=0.1, retry_after=1),
        Fault(route="initiate", action="reset", nth=2),
        Fault(route="*", action="latency", delay=0.25, times=3),
        Fault(route="download", status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
        Fault(route="info", status=502, body="<html>bad gateway</html>"),
        Fault(route="storage_put", status=503, start=2.5, duration=60),
    ],
)
def test_parse_fault_round_trips(fault):
    assert parse_fault(format_fault(fault)) == fault


def test_parse_fault_reads_the_command_line_syntax():
    fault = parse_fault("route=storage_put,action=status,status=503,probability=0.1,retry_after=1")
    assert fault == Fault(
        route="storage_put", action="status", status=503, probability=0.1, retry_after=1.0
    )
    outage = parse_fault("route=storage_put,status=503,start=5,duration=60")
    assert (outage.start, outage.duration) == (5.0, 60.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected key=value"),
        ("action=reset", "'route' is required"),
        ("route=initiate,colour=red", "unknown key 'colour'"),
        ("route=initiate,status=abc", "not a number"),
        ("route=initiate,route=info", "given twice"),
        ("route=nowhere", "unknown route"),
        ("route=initiate,action=explode", "unknown fault action"),
        ("route=initiate,status=200", "400-599"),
        ("route=initiate,nth=1,times=2", "nth cannot be combined"),
        ("route=initiate,probability=1.5", "probability"),
        ("route=initiate,retry_after=tomorrow", "HTTP date"),
        ("route=initiate,start=-1", "start must be"),
        ("route=initiate,duration=0", "duration must be"),
        ("route=initiate,duration=soon", "not a number"),
    ],
)
def test_parse_fault_rejects_nonsense_with_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        parse_fault(text)
