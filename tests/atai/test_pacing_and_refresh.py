"""Rate limits are respected, URLs are refreshed before they expire, integrity is checked."""

from __future__ import annotations

import os

import pytest

from atai_fs import RateLimit
from atai_fs.emulator import ATAIEmulator
from tests.conftest import PART_SIZE, download, make_fs


@pytest.fixture
def small_files(tmp_path):
    paths = []
    for index in range(60):
        path = tmp_path / f"f{index:03}.json"
        path.write_bytes(os.urandom(100 + index))
        paths.append(path)
    return paths


def test_put_of_many_files_stays_under_the_documented_burst(small_files):
    with ATAIEmulator(
        rate_limit=True, rate_limit_burst_per_second=20, rate_limit_per_minute=100_000
    ) as emulator:
        fs = make_fs(emulator, rate_limit="20/s")
        fs.put([str(p) for p in small_files], "atai://inbox/")
        assert sorted(fs.ls("atai://inbox/", detail=False)) == [
            f"inbox/{p.name}" for p in small_files
        ]
        # The pacing keeps 429s rare; the few timing edges are retried.
        assert emulator.stats.rate_limited <= 3


def test_429s_are_retried_and_slow_the_client_down(small_files):
    with ATAIEmulator(
        rate_limit=True, rate_limit_burst_per_second=20, rate_limit_per_minute=100_000
    ) as emulator:
        fs = make_fs(emulator, rate_limit=RateLimit(per_second=1000, burst=1000))
        fs.put([str(p) for p in small_files[:30]], "atai://inbox/")
        assert len(fs.ls("atai://inbox/")) == 30
        assert emulator.stats.rate_limited > 0
        assert fs.rate_limiter.throttled == emulator.stats.rate_limited


def test_rate_limit_option_forms():
    assert RateLimit.parse("20/s,100/min") == RateLimit(per_second=20, per_minute=100)
    assert RateLimit.parse("5/s,burst=2") == RateLimit(per_second=5, burst=2)
    assert RateLimit.parse("off") is None
    with pytest.raises(ValueError, match="20/s"):
        RateLimit.parse("fast please")


def test_urls_are_refreshed_in_batches_before_they_expire(tmp_path):
    # 24 parts at ~0.25 s each, two at a time: ~3 s of uploading with URLs living 1.5 s.
    with ATAIEmulator(part_size=PART_SIZE, url_lifetime=1.5, put_bandwidth=256_000) as emu:
        fs = make_fs(emu, max_concurrency=2)
        local = tmp_path / "slow.bin"
        local.write_bytes(os.urandom(24 * PART_SIZE))
        fs.put_file(str(local), "slow.bin")
        assert download(emu, "slow.bin") == local.read_bytes()
        refreshes = emu.stats.requests_by_route.get("parts_urls", 0)
        assert 1 <= refreshes <= 8  # batches, not one call per part


def test_an_expired_url_is_refreshed_after_a_403(fs, emulator):
    emulator.faults.add(route="storage_put", action="expire_url", times=2)
    data = os.urandom(3 * PART_SIZE)
    fs.pipe_file("refreshed.bin", data)
    assert download(emulator, "refreshed.bin") == data
    assert emulator.stats.requests_by_route["parts_urls"] >= 1


def test_a_part_whose_etag_is_not_its_md5_is_resent(fs, emulator):
    emulator.faults.add(route="storage_put", action="wrong_etag", times=1)
    data = os.urandom(4 * PART_SIZE)
    fs.pipe_file("checked.bin", data)
    assert download(emulator, "checked.bin") == data
    assert emulator.stats.requests_by_route["storage_put"] == 5


@pytest.mark.parametrize("size", [0, 1, PART_SIZE, 5 * PART_SIZE + 3])
@pytest.mark.parametrize("mode", ["put_file", "open-unknown", "open-known"])
def test_crc32c_integrity_checksum_is_sent_and_verified(tmp_path, size, mode):
    with ATAIEmulator(part_size=PART_SIZE, integrity_algorithm="crc32c") as emulator:
        fs = make_fs(emulator)
        data = os.urandom(size)
        if mode == "put_file":
            (tmp_path / "src").write_bytes(data)
            fs.put_file(str(tmp_path / "src"), "crc.bin")
        else:
            with fs.open("crc.bin", "wb", size=size if mode == "open-known" else None) as f:
                f.write(data)
        info = fs.info("crc.bin")
        assert info["file_status"] != "FILE_STATUS_CORRUPT"
        assert emulator.stats.checksums_verified == 1
        assert download(emulator, "crc.bin") == data
