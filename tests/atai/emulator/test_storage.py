"""Presigned part PUTs: spec section 4.9 and open point 16."""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import os
import time

from yarl import URL

from tests.sizes import PART_SIZE as PART


async def test_part_put_answers_200_with_quoted_md5_etag(open_api):
    data = os.urandom(1000)
    async with open_api() as api:
        init = await api.initiate("etag.csv", len(data))
        r = await api.put(init["parts"][0]["url"], data)
    assert r.status == 200
    assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'


async def test_part_url_points_at_the_emulator_storage_route(emulator, open_api):
    async with open_api() as api:
        init = await api.initiate("where.csv", 10)
    url = URL(init["parts"][0]["url"])
    assert (url.host, url.port) == ("127.0.0.1", URL(emulator.endpoint_url).port)
    assert url.path == f"/storage/{init['upload_id']}/1"
    assert {"X-Amz-Expires", "X-Amz-Signature"} <= url.query.keys()


async def test_expired_url_is_403_access_denied(make_emulator, open_api):
    emulator = make_emulator(url_lifetime=0.05)
    async with open_api(emulator) as api:
        init = await api.initiate("late.csv", 10)
        await asyncio.sleep(0.1)
        async with api.session.put(URL(init["parts"][0]["url"], encoded=True), data=b"x" * 10) as r:
            body = await r.text()
    assert r.status == 403
    assert "AccessDenied" in body
    assert "Request has expired" in body


async def test_refreshed_url_works_after_expiry(make_emulator, open_api):
    emulator = make_emulator(url_lifetime=0.3)
    async with open_api(emulator) as api:
        init = await api.initiate("refresh.csv", 10)
        await asyncio.sleep(0.35)
        assert (await api.put(init["parts"][0]["url"], b"x" * 10)).status == 403
        fresh = await api.ok(
            "POST", f"files/uploads/{init['upload_id']}/parts/urls", json={"part_numbers": [1]}
        )
        assert (await api.put(fresh["parts"][0]["url"], b"x" * 10)).status == 200


async def test_tampered_signature_or_expiry_is_403_signature_does_not_match(open_api):
    async with open_api() as api:
        init = await api.initiate("tamper.csv", 10)
        url = URL(init["parts"][0]["url"])
        later = str(float(url.query["X-Amz-Expires"]) + 3600)
        for bad in (
            url.update_query({"X-Amz-Signature": "0" * 64}),
            url.update_query({"X-Amz-Expires": later}),
            url.with_path(url.path[:-1] + "2").with_query(url.query),
        ):
            async with api.session.put(bad, data=b"x" * 10) as r:
                assert r.status == 403
                assert "SignatureDoesNotMatch" in await r.text()


async def test_authorization_header_on_storage_put_is_400(open_api):
    async with open_api() as api:
        init = await api.initiate("leak.csv", 10)
        r = await api.put(init["parts"][0]["url"], b"x" * 10, headers=api.auth)
    assert r.status == 400


async def test_chunked_put_is_411_missing_content_length(open_api):
    async def chunks():
        yield b"x" * 5
        yield b"y" * 5

    async with open_api() as api:
        init = await api.initiate("chunked.csv", 10)
        url = URL(init["parts"][0]["url"], encoded=True)
        async with api.session.put(url, data=chunks()) as r:
            assert r.status == 411
            assert "MissingContentLength" in await r.text()


async def test_put_without_content_length_is_411(emulator, open_api):
    async with open_api() as api:
        init = await api.initiate("nolength.csv", 10)
    url = URL(init["parts"][0]["url"])
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        f"PUT {url.raw_path_qs} HTTP/1.1\r\nHost: {url.authority}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"411"


async def test_wrong_body_length_is_400(open_api):
    async with open_api() as api:
        init = await api.initiate("length.csv", 10)
        for body in (b"x" * 9, b"x" * 11):
            assert (await api.put(init["parts"][0]["url"], body)).status == 400
        status, err = await api.complete(
            init["upload_id"], [{"part_number": 1, "part_token": '"x"'}]
        )
    assert status == 400
    assert "never uploaded" in err["errors"][0]["message"]  # nothing was stored


async def test_re_put_replaces_the_part(open_api):
    async with open_api() as api:
        init = await api.initiate("replace.csv", 4)
        url = init["parts"][0]["url"]
        await api.put(url, b"aaaa")
        r = await api.put(url, b"bbbb")
        status, _ = await api.complete(
            init["upload_id"], [{"part_number": 1, "part_token": r.headers["ETag"]}]
        )
        assert status == 200
        assert await api.download("replace.csv") == b"bbbb"


async def test_concurrent_puts_are_counted_in_flight(emulator, open_api):
    data = os.urandom(8 * PART)
    async with open_api() as api:
        init = await api.initiate("parallel.csv", len(data))

        async def slow_body(part):
            chunk = data[part["offset"] : part["offset"] + part["length"]]
            yield chunk[:1]
            await asyncio.sleep(0.2)  # every PUT is now open at the same time
            yield chunk[1:]

        async def put(part):
            url = URL(part["url"], encoded=True)
            headers = {"Content-Length": str(part["length"])}
            async with api.session.put(url, data=slow_body(part), headers=headers) as r:
                assert r.status == 200
                return {"part_number": part["part_number"], "part_token": r.headers["ETag"]}

        tokens = await asyncio.gather(*(put(p) for p in init["parts"]))
        assert (await api.complete(init["upload_id"], list(tokens)))[0] == 200
    assert emulator.stats.max_puts_in_flight > 1
    assert emulator.stats.puts_in_flight == 0
    assert emulator.stats.part_puts == 8
    assert emulator.stats.bytes_received == len(data)


async def test_url_expires_at_matches_url_lifetime(make_emulator, open_api):
    emulator = make_emulator(url_lifetime=120)
    async with open_api(emulator) as api:
        init = await api.initiate("lifetime.csv", 10)
    expires = calendar.timegm(time.strptime(init["parts"][0]["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expires - (time.time() + 120)) < 5


async def test_parts_urls_honours_a_short_url_lifetime(make_emulator, open_api):
    emulator = make_emulator(url_lifetime=0.2)
    async with open_api(emulator) as api:
        init = await api.initiate("short.csv", 10)
        fresh = await api.ok(
            "POST", f"files/uploads/{init['upload_id']}/parts/urls", json={"part_numbers": [1]}
        )
        await asyncio.sleep(0.25)
        assert (await api.put(fresh["parts"][0]["url"], b"x" * 10)).status == 403
    expiry = float(URL(fresh["parts"][0]["url"]).query["X-Amz-Expires"])
    assert expiry - time.time() < 0
