"""Download switches: servers without range support, and redirects to presigned storage GETs."""

from __future__ import annotations

import asyncio
import os

from yarl import URL

DATA = os.urandom(1024)


async def test_ignore_range_answers_200_with_the_whole_body(make_emulator, open_api):
    emulator = make_emulator(ignore_range=True)
    async with open_api(emulator) as api:
        await api.upload("whole.bin", DATA)
        url = api.url("files/download/whole.bin")
        async with api.session.get(url, headers={**api.auth, "Range": "bytes=10-19"}) as r:
            body = await r.read()
    assert r.status == 200
    assert "Content-Range" not in r.headers
    assert "Accept-Ranges" not in r.headers
    assert body == DATA


async def test_redirect_downloads_answers_307_to_a_presigned_storage_get(make_emulator, open_api):
    emulator = make_emulator(redirect_downloads=True)
    async with open_api(emulator) as api:
        done = await api.upload("moved.bin", DATA)
        url = api.url("files/download/moved.bin")
        async with api.session.get(url, headers=api.auth, allow_redirects=False) as r:
            location = URL(r.headers["Location"])
    assert r.status == 307
    assert location.path == f"/storage/files/{done['file_uid']}"
    assert {"X-Amz-Expires", "X-Amz-Signature"} <= location.query.keys()


async def test_redirected_get_serves_the_file_and_a_single_range(make_emulator, open_api):
    emulator = make_emulator(redirect_downloads=True)
    async with open_api(emulator) as api:
        await api.upload("moved.bin", DATA)
        url = api.url("files/download/moved.bin")
        async with api.session.get(url, headers=api.auth, allow_redirects=False) as r:
            location = URL(r.headers["Location"], encoded=True)
        async with api.session.get(location) as whole:
            whole_body = await whole.read()
        async with api.session.get(location, headers={"Range": "bytes=100-199"}) as part:
            part_body = await part.read()
    assert (whole.status, whole_body) == (200, DATA)
    assert (part.status, part_body) == (206, DATA[100:200])
    assert part.headers["Content-Range"] == "bytes 100-199/1024"
    assert emulator.stats.bytes_served == 1024 + 100
    assert emulator.stats.requests_by_route["storage_get"] == 2


async def test_redirected_get_with_an_authorization_header_is_400(make_emulator, open_api):
    emulator = make_emulator(redirect_downloads=True)
    async with open_api(emulator) as api:
        await api.upload("moved.bin", DATA)
        url = api.url("files/download/moved.bin")
        async with api.session.get(url, headers=api.auth, allow_redirects=False) as r:
            location = URL(r.headers["Location"], encoded=True)
        async with api.session.get(location, headers=api.auth) as refused:
            body = await refused.text()
    assert refused.status == 400
    assert "InvalidArgument" in body
    assert emulator.stats.bytes_served == 0


async def test_redirected_get_url_expires_after_url_lifetime(make_emulator, open_api):
    emulator = make_emulator(redirect_downloads=True, url_lifetime=0.2)
    async with open_api(emulator) as api:
        await api.upload("late.bin", DATA)
        url = api.url("files/download/late.bin")
        async with api.session.get(url, headers=api.auth, allow_redirects=False) as r:
            location = URL(r.headers["Location"], encoded=True)
        await asyncio.sleep(0.25)
        async with api.session.get(location) as late:
            assert late.status == 403
            assert "Request has expired" in await late.text()


async def test_redirected_get_url_is_signed_and_dies_with_the_file(make_emulator, open_api):
    emulator = make_emulator(redirect_downloads=True)
    async with open_api(emulator) as api:
        await api.upload("moved.bin", DATA)
        url = api.url("files/download/moved.bin")
        async with api.session.get(url, headers=api.auth, allow_redirects=False) as r:
            location = URL(r.headers["Location"])
        tampered = location.update_query({"X-Amz-Signature": "0" * 64})
        async with api.session.get(tampered) as bad:
            assert bad.status == 403
        await api.ok("DELETE", "files/delete/moved.bin")
        async with api.session.get(location) as gone:
            assert gone.status == 404
            assert "NoSuchKey" in await gone.text()


async def test_client_keeping_the_key_across_the_redirect_is_refused(make_emulator, open_api):
    emulator = make_emulator(redirect_downloads=True)
    async with open_api(emulator) as api:
        await api.upload("moved.bin", DATA)
        # aiohttp keeps explicit headers across a same-host redirect: the storage refuses.
        status, _ = await api.call("GET", "files/download/moved.bin")
        assert status == 400
