"""Checksums computed in worker threads beside the loop are the checksums of the bytes
sent: the emulator checks every part's MD5 ETag and the whole file's CRC32C at complete,
through every write mode, with chunks large enough to be hashed off the loop."""

from __future__ import annotations

import os

import pytest

from atai_fs.emulator import ATAIEmulator

from ..conftest import download, make_fs

PART = 1 << 20


@pytest.mark.parametrize("hash_in_threads", [True, False])
def test_every_write_mode_lands_intact(tmp_path, hash_in_threads):
    data = os.urandom(5 * PART + 12345)
    local = tmp_path / "data.bin"
    local.write_bytes(data)
    with ATAIEmulator(part_size=PART, integrity_algorithm="crc32c") as emulator:
        fs = make_fs(emulator, hash_in_threads=hash_in_threads, chunk_size=512 << 10)
        fs.put_file(str(local), "put.bin")
        with fs.open("known.bin", "wb", size=len(data)) as f:
            f.write(data)
        with fs.open("unknown.bin", "wb") as f:
            f.write(data)
        fs.pipe_file("piped.bin", data)
        for name in ("put.bin", "known.bin", "unknown.bin", "piped.bin"):
            assert download(emulator, name) == data
        assert emulator.stats.checksums_verified >= 4
