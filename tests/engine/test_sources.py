"""Part sources answer any byte range, from memory or disk, and clean up after themselves."""

from __future__ import annotations

import os

import pytest

from atai_fs.engine.sources import BytesSource, FileSource, SpoolSource


@pytest.fixture
def data() -> bytes:
    return os.urandom(100_000)


def test_file_source_reads_ranges_with_pread(tmp_path, data):
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    source = FileSource(path)
    assert source.size == len(data)
    assert bytes(source.read(0, 10)) == data[:10]
    assert bytes(source.read(99_990, 10)) == data[99_990:]
    source.close()


def test_file_source_notices_truncation(tmp_path, data):
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    source = FileSource(path)
    os.truncate(path, 10)
    with pytest.raises(OSError, match="truncated"):
        source.read(0, 100)
    source.close()


def test_bytes_source_slices_without_copying(data):
    source = BytesSource(data)
    assert isinstance(source.read(5, 10), memoryview)
    assert bytes(source.read(5, 10)) == data[5:15]


@pytest.mark.parametrize("memory_limit", [0, 1000, 10**6], ids=["disk", "spills", "memory"])
def test_spool_source_keeps_every_byte(tmp_path, data, memory_limit):
    spool = SpoolSource(memory_limit, base_offset=500, spool_dir=str(tmp_path))
    for start in range(0, len(data), 7_777):
        spool.write(data[start : start + 7_777])
    assert spool.size == len(data)
    assert spool.on_disk == (memory_limit < len(data))
    assert bytes(spool.read(500, 100)) == data[:100]
    assert bytes(spool.read(500 + 99_000, 1000)) == data[99_000:]
    with pytest.raises(ValueError):
        spool.read(0, 10)
    spool.close()
    assert list(tmp_path.iterdir()) == []
