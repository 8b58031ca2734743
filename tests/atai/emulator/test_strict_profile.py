"""The strict profile: the hardest plausible answer to every open point of spec section 10,
each also a separate option."""

from __future__ import annotations

import hashlib

import pytest

from atai_fs.emulator import ATAIEmulator
from atai_fs.emulator.atai.config import PROFILES
from tests.sizes import PART_SIZE as PART


def test_strict_profile_turns_every_hard_knob_at_once(make_emulator):
    config = make_emulator(profile="strict").config
    assert config.etag_style == "opaque"
    assert config.part_number_base == 1
    assert config.ignore_range and config.redirect_downloads
    assert config.rate_limit and not config.rate_limit_retry_after
    assert config.rate_limit_per_minute == 100 and config.rate_limit_burst_per_second == 20
    assert config.url_lifetime == 30
    assert config.max_page_size == 2


def test_options_given_beside_a_profile_win(make_emulator):
    config = make_emulator(profile="strict", url_lifetime=5, rate_limit=False).config
    assert config.url_lifetime == 5 and not config.rate_limit
    assert config.etag_style == "opaque"


def test_the_default_profile_changes_nothing(make_emulator):
    assert PROFILES["default"] == {}
    config = make_emulator(profile="default").config
    assert config.etag_style == "md5" and config.rate_limit_retry_after


@pytest.mark.parametrize(
    "options, named",
    [({"profile": "hard"}, "profile"), ({"etag_style": "sha1"}, "etag_style")],
)
def test_unknown_profile_or_etag_style_is_refused_by_name(options, named):
    with pytest.raises(ValueError, match=named):
        ATAIEmulator(**options)


async def test_opaque_etags_are_not_md5s_and_complete_accepts_them(make_emulator, open_api):
    emulator = make_emulator(etag_style="opaque")
    data = bytes(range(256)) * (PART // 256) + b"tail"
    async with open_api(emulator) as api:
        init = await api.initiate("opaque.bin", len(data), "application/octet-stream")
        tokens = [await api.put_part(part, data) for part in init["parts"]]
        first = init["parts"][0]
        resent = await api.put_part(first, data)
        status, _ = await api.complete(init["upload_id"], [resent, *tokens[1:]])
        assert status == 200
        assert await api.download("opaque.bin") == data
    md5 = '"' + hashlib.md5(data[: first["length"]]).hexdigest() + '"'
    etags = [t["part_token"] for t in tokens]
    assert md5 not in etags and resent["part_token"] != tokens[0]["part_token"]
    assert all(len(etag) == 34 and etag.startswith('"') and etag.endswith('"') for etag in etags)


async def test_stale_opaque_etag_of_a_replaced_part_is_refused(make_emulator, open_api):
    emulator = make_emulator(etag_style="opaque")
    async with open_api(emulator) as api:
        init = await api.initiate("stale.bin", 3, "application/octet-stream")
        old = await api.put_part(init["parts"][0], b"abc")
        await api.put_part(init["parts"][0], b"abc")
        status, body = await api.complete(init["upload_id"], [old])
    assert status == 400 and api.codes(body) == ["invalid_part_token"]


async def test_429_without_retry_after_says_nothing_of_a_wait(make_emulator, open_api):
    emulator = make_emulator(rate_limit=True, rate_limit_retry_after=False)
    async with open_api(emulator) as api:
        for _ in range(20):
            assert (await api.call("GET", "files/info"))[0] == 200
        async with api.session.get(api.url("files/info"), headers=api.auth) as r:
            body = await r.json()
    assert r.status == 429 and "Retry-After" not in r.headers
    assert api.codes(body) == ["RATE_LIMIT_EXCEEDED"]
    assert "Retry after" not in str(body)
    assert emulator.stats.rate_limited == 1


async def test_strict_downloads_redirect_and_ignore_range(make_emulator, open_api):
    emulator = make_emulator(profile="strict")
    async with open_api(emulator) as api:
        await api.upload("r.csv", b"0123456789")
        url = api.url(f"files/download/{api.encoded('r.csv')}")
        async with api.session.get(url, headers=api.auth, allow_redirects=False) as r:
            assert r.status == 307
            location = r.headers["Location"]
        async with api.session.get(location, headers={"Range": "bytes=2-4"}) as r:
            assert r.status == 200 and await r.read() == b"0123456789"
