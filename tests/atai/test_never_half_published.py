"""A file is published only by a successful close; every other ending aborts."""

from __future__ import annotations

import gc
import os

import pytest

from atai_fs import ATAIFileSystem, InvalidRequest, RetryPolicy
from atai_fs.emulator import ATAIEmulator
from benchmarks.faults import spool_files_open
from tests.conftest import PART_SIZE, download, stored_names, wait_for


class Boom(Exception):
    pass


def only_upload(emulator):
    (upload,) = emulator.uploads.values()
    return upload


def test_exception_in_with_block_aborts_known_size_upload(fs, emulator):
    with pytest.raises(Boom), fs.open("half.bin", "wb", size=4 * PART_SIZE) as f:
        f.write(os.urandom(2 * PART_SIZE))
        raise Boom
    assert only_upload(emulator).state == "aborted"
    assert "half.bin" not in stored_names(emulator)


def test_exception_in_with_block_never_initiates_unknown_size_upload(fs, emulator):
    with pytest.raises(Boom), fs.open("half.bin", "wb") as f:
        f.write(os.urandom(3 * PART_SIZE))
        raise Boom
    assert emulator.uploads == {}
    assert emulator.stats.api_requests == 0
    assert "half.bin" not in stored_names(emulator)


def test_exception_in_with_block_keeps_the_previous_version(fs, emulator):
    fs.pipe_file("report.csv", b"a,b\n1,2\n")
    with pytest.raises(Boom), fs.open("report.csv", "wb", size=10) as f:
        f.write(b"x,y\n")
        raise Boom
    assert download(emulator, "report.csv") == b"a,b\n1,2\n"


def test_garbage_collected_unclosed_file_is_aborted(fs, emulator):
    f = fs.open("forgotten.bin", "wb", size=3 * PART_SIZE)
    f.write(os.urandom(PART_SIZE + 10))
    assert wait_for(lambda: emulator.stats.part_puts >= 1)
    upload_id = f._uploader.plan.upload_id
    del f
    gc.collect()
    assert wait_for(lambda: emulator.uploads[upload_id].state == "aborted")
    assert "forgotten.bin" not in stored_names(emulator)


def test_garbage_collected_unknown_size_file_sends_nothing(fs, emulator, tmp_path):
    fs = ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        spool_threshold=1024,
        spool_dir=str(tmp_path),
        skip_instance_cache=True,
    )
    f = fs.open("forgotten.bin", "wb")
    f.write(os.urandom(5 * PART_SIZE))
    del f
    gc.collect()
    assert emulator.stats.api_requests == 0
    assert spool_files_open(tmp_path) == []


def test_writing_more_than_the_announced_size_aborts(fs, emulator):
    with fs.open("exact.bin", "wb", size=10) as f, pytest.raises(InvalidRequest, match="size=10"):
        f.write(b"0123456789ABC")
    assert only_upload(emulator).state == "aborted"


def test_writing_less_than_the_announced_size_aborts(fs, emulator):
    f = fs.open("exact.bin", "wb", size=PART_SIZE * 2)
    f.write(b"only this")
    with pytest.raises(InvalidRequest, match="only 9 of the"):
        f.close()
    assert only_upload(emulator).state == "aborted"
    assert "exact.bin" not in stored_names(emulator)


@pytest.mark.parametrize("mode", ["unknown-size", "known-size", "put_file-not-resumable"])
def test_failed_part_aborts_the_upload(mode, tmp_path):
    with ATAIEmulator(part_size=PART_SIZE) as emulator:
        # Every PUT is refused as expired, even after the URL is refreshed.
        emulator.faults.add(route="storage_put", action="expire_url")
        fs = ATAIFileSystem(
            api_key=emulator.api_key,
            endpoint_url=emulator.endpoint_url,
            retry=RetryPolicy(attempts=2, base_delay=0),
            skip_instance_cache=True,
        )
        data = os.urandom(3 * PART_SIZE)
        with pytest.raises(PermissionError, match="expired"):
            if mode.startswith("put_file"):
                (tmp_path / "src.bin").write_bytes(data)
                fs.put_file(str(tmp_path / "src.bin"), "failing.bin", resume=False)
            else:
                size = len(data) if mode == "known-size" else None
                with fs.open("failing.bin", "wb", size=size) as f:
                    f.write(data)
        assert only_upload(emulator).state == "aborted"
        assert "failing.bin" not in stored_names(emulator)


@pytest.mark.parametrize("outcome", ["success", "failure"])
@pytest.mark.parametrize("size", [None, 6 * PART_SIZE], ids=["unknown-size", "known-size"])
def test_temporary_files_are_gone_after_close(emulator, tmp_path, outcome, size):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    fs = ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        spool_threshold=4096,  # force the spool onto disk
        spool_dir=str(spool_dir),
        skip_instance_cache=True,
    )
    data = os.urandom(6 * PART_SIZE)
    try:
        with fs.open("spooled.bin", "wb", size=size) as f:
            f.write(data)
            assert spool_files_open(spool_dir), "the spool should be on disk while writing"
            if outcome == "failure":
                raise Boom
    except Boom:
        pass
    assert spool_files_open(spool_dir) == []
    assert list(spool_dir.iterdir()) == []
