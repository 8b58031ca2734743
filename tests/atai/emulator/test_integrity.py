"""Whole-file CRC32C at complete: spec section 4.12 and open points 7 and 10."""

from __future__ import annotations

import os

import pytest

from atai_fs.checksums import crc32c_base64, crc32c_update
from tests.sizes import PART_SIZE as PART


def test_crc32c_check_vector():
    assert crc32c_base64(crc32c_update(0, b"123456789")) == "4waSgw=="


def test_crc32c_is_incremental():
    data = os.urandom(1000)
    assert crc32c_update(crc32c_update(0, data[:300]), data[300:]) == crc32c_update(0, data)


async def test_initiate_advertises_the_configured_algorithm(make_emulator, open_api):
    emulator = make_emulator(integrity_algorithm="crc32c")
    async with open_api(emulator) as api:
        init = await api.initiate("algo.csv", 1)
    assert init["integrity_algorithm"] == "crc32c"


async def test_matching_checksum_completes(make_emulator, open_api):
    emulator = make_emulator(integrity_algorithm="crc32c")
    data = os.urandom(2 * PART + 7)
    checksum = crc32c_base64(crc32c_update(0, data))
    async with open_api(emulator) as api:
        init = await api.initiate("good.csv", len(data))
        tokens = [await api.put_part(p, data) for p in init["parts"]]
        status, body = await api.complete(init["upload_id"], tokens, integrity_checksum=checksum)
        assert status == 200, body
        assert await api.download("good.csv") == data


async def test_checksum_mismatch_marks_file_corrupt_and_download_400(make_emulator, open_api):
    emulator = make_emulator(integrity_algorithm="crc32c")
    data = os.urandom(100)
    wrong = crc32c_base64(crc32c_update(0, data + b"!"))
    async with open_api(emulator) as api:
        init = await api.initiate("bad.csv", len(data))
        tokens = [await api.put_part(p, data) for p in init["parts"]]
        status, body = await api.complete(init["upload_id"], tokens, integrity_checksum=wrong)
        assert status == 400
        assert api.codes(body) == ["checksum_mismatch"]
        meta = await api.ok("GET", "files/metadata/bad.csv")
        assert (meta["file_status"], meta["is_valid"]) == ("FILE_STATUS_CORRUPT", False)
        status, body = await api.call("GET", "files/download/bad.csv")
        assert status == 400
        info = await api.ok("GET", "files/info")
        assert (info["num_files"], info["num_ingested"]) == (1, 0)
    assert emulator.uploads[init["upload_id"]].state == "completed"


@pytest.mark.parametrize("checksum", ["not base64!", "AAAA", "AAAAAAAA", 12])
async def test_malformed_checksum_is_400_and_upload_stays_open(make_emulator, open_api, checksum):
    emulator = make_emulator(integrity_algorithm="crc32c")
    async with open_api(emulator) as api:
        init = await api.initiate("shape.csv", 3)
        tokens = [await api.put_part(p, b"abc") for p in init["parts"]]
        status, body = await api.complete(init["upload_id"], tokens, integrity_checksum=checksum)
        assert status == 400
        assert api.codes(body) == ["invalid_parameter"]
    assert emulator.uploads[init["upload_id"]].state == "in_progress"
