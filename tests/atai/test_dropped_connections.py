"""A part PUT whose reused connection drops mid-body is written again by aiohttp itself
(PUT is idempotent): the same body object, from its first byte.  Its checksums and its
progress must still see each byte of the part once."""

from __future__ import annotations

import os

import pytest

from atai_fs.emulator import ATAIEmulator
from tests.conftest import PART_SIZE, download, make_fs


@pytest.fixture
def crc_emulator(tmp_path):
    with ATAIEmulator(
        data_dir=tmp_path / "emulator", part_size=PART_SIZE, integrity_algorithm="crc32c"
    ) as emu:
        yield emu


@pytest.mark.parametrize("verify_etag", [False, True], ids=["crc32c-only", "md5-and-crc32c"])
def test_a_body_written_again_on_a_dropped_connection_publishes_intact(
    crc_emulator, tmp_path, verify_etag
):
    data = os.urandom(4 * PART_SIZE + 9)
    local = tmp_path / "data.bin"
    local.write_bytes(data)
    # The second PUT goes over the connection the first one used, and is cut mid-body.
    crc_emulator.faults.add(route="storage_put", action="reset", nth=2)
    fs = make_fs(crc_emulator, chunk_size=4096, max_concurrency=1, verify_etag=verify_etag)
    fs.put_file(str(local), "data.bin")
    assert crc_emulator.faults.fired
    assert download(crc_emulator, "data.bin") == data
    assert crc_emulator.orphans() == []
