"""Reads stay correct whatever the server does with ranges, redirects and bad files."""

from __future__ import annotations

import base64
import os

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from fsspec.callbacks import Callback

from atai_fs import InvalidRequest
from atai_fs.emulator import ATAIEmulator
from tests.conftest import PART_SIZE, make_fs


@pytest.fixture
def no_range_emulator(tmp_path):
    with ATAIEmulator(data_dir=tmp_path, part_size=PART_SIZE, ignore_range=True) as emu:
        yield emu


@pytest.fixture
def redirecting_emulator(tmp_path):
    with ATAIEmulator(data_dir=tmp_path, part_size=PART_SIZE, redirect_downloads=True) as emu:
        yield emu


@pytest.mark.parametrize(("start", "end"), [(0, 10), (5000, 9000), (-100, None), (10, None)])
def test_reads_are_correct_when_the_server_ignores_range(no_range_emulator, start, end):
    fs = make_fs(no_range_emulator, chunk_size=4096)
    data = os.urandom(5 * PART_SIZE)
    fs.pipe_file("whole.bin", data)
    assert fs.cat_file("whole.bin", start=start, end=end) == data[start:end]


def test_ranged_read_stops_streaming_once_it_has_the_range(no_range_emulator):
    fs = make_fs(no_range_emulator)
    data = os.urandom(48 << 20)
    fs.pipe_file("large.bin", data)
    no_range_emulator.stats.reset()
    assert fs.cat_file("large.bin", start=100, end=200) == data[100:200]
    # Far less than the body went out: the client closed the response early.
    assert no_range_emulator.stats.bytes_served < len(data) // 2


def test_open_rb_when_the_server_ignores_range(no_range_emulator):
    fs = make_fs(no_range_emulator)
    data = os.urandom(3 * PART_SIZE)
    fs.pipe_file("whole.bin", data)
    with fs.open("whole.bin", "rb", block_size=1000) as f:
        f.seek(2 * PART_SIZE)
        assert f.read(500) == data[2 * PART_SIZE : 2 * PART_SIZE + 500]


def test_redirected_downloads_are_followed_without_the_api_key(redirecting_emulator, tmp_path):
    # The emulator's storage GET refuses requests that carry an Authorization header.
    fs = make_fs(redirecting_emulator)
    data = os.urandom(2 * PART_SIZE + 3)
    fs.pipe_file("redirected.bin", data)
    assert fs.cat_file("redirected.bin") == data
    assert (
        fs.cat_file("redirected.bin", start=PART_SIZE, end=PART_SIZE + 10)
        == data[PART_SIZE : PART_SIZE + 10]
    )
    fs.get_file("atai://redirected.bin", str(tmp_path / "local.bin"))
    assert (tmp_path / "local.bin").read_bytes() == data
    assert redirecting_emulator.stats.requests_by_route["storage_get"] >= 3


def test_download_of_a_corrupt_file_says_it_is_corrupt(tmp_path):
    with ATAIEmulator(data_dir=tmp_path, integrity_algorithm="crc32c") as emulator:
        fs = make_fs(emulator)
        api = fs.api
        plan = fs._run_on_loop(api.initiate("bad.bin", "application/octet-stream", 4))
        (part,) = plan.parts
        import urllib.request

        request = urllib.request.Request(part.url, data=b"abcd", method="PUT")
        with urllib.request.urlopen(request) as response:
            etag = response.headers["ETag"]
        wrong = base64.b64encode(b"\x00\x00\x00\x00").decode()
        with pytest.raises(InvalidRequest):
            fs._run_on_loop(
                api.complete(plan.upload_id, {part.number: etag}, integrity_checksum=wrong)
            )
        with pytest.raises(InvalidRequest, match="corrupt"):
            fs.cat_file("bad.bin")


def test_rmdir_of_an_empty_pseudo_directory_is_a_no_op(fs):
    fs.rmdir("atai://never/existed")
    fs.pipe_file("full/x.txt", b"x")
    with pytest.raises(OSError, match="not empty"):
        fs.rmdir("atai://full")


def test_get_reports_progress_through_callbacks(fs, tmp_path):
    data = os.urandom(3 * PART_SIZE + 11)
    fs.pipe_file("progress.bin", data)

    class Recorder(Callback):
        def __init__(self):
            super().__init__()
            self.sizes = []

        def call(self, *args, **kwargs):
            self.sizes.append((self.size, self.value))

    recorder = Recorder()
    fs.get_file("atai://progress.bin", str(tmp_path / "p.bin"), callback=recorder)
    assert recorder.size == len(data)
    assert recorder.value == len(data)


def test_pyarrow_dataset_over_a_prefix(fs):
    for part in range(3):
        table = pa.table({"part": [part] * 100, "value": list(range(100))})
        with fs.open(f"runs/data/part-{part}.parquet", "wb") as f:
            pq.write_table(table, f)
    dataset = ds.dataset("runs/data/", filesystem=fs, format="parquet")
    table = dataset.to_table()
    assert table.num_rows == 300
    assert sorted(set(table.column("part").to_pylist())) == [0, 1, 2]
