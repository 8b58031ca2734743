"""Small files of the types POST /files accepts go up in one request."""

from __future__ import annotations

import os

import pytest

from tests.conftest import PART_SIZE, download, make_fs


@pytest.mark.parametrize("name", ["small.csv", "my data (v2).csv"])
def test_a_small_csv_is_one_api_call(fs, emulator, tmp_path, name):
    local = tmp_path / "small.csv"
    local.write_bytes(b"a,b\n1,2\n" * 100)
    fs.put_file(str(local), name)
    assert emulator.stats.requests_by_route == {"simple_upload": 1}
    assert download(emulator, name) == local.read_bytes()
    assert fs.info(name)["file_type"] == "text/csv"


@pytest.mark.parametrize(
    ("name", "size", "reason"),
    [
        ("big.csv", 9 << 20, "over single_request_limit"),
        ("data.parquet", 100, "a type POST /files does not accept"),
        ("dir/small.csv", 100, "a name with '/'"),
        ("naïve.csv", 100, "a non-ASCII name"),
    ],
)
def test_other_files_take_the_direct_route(fs, emulator, name, size, reason):
    data = os.urandom(size)
    fs.pipe_file(name, data)
    assert "simple_upload" not in emulator.stats.requests_by_route, reason
    assert emulator.stats.requests_by_route["initiate"] == 1
    assert download(emulator, name) == data


def test_single_request_route_can_be_turned_off(emulator):
    fs = make_fs(emulator, single_request_limit=0)
    fs.pipe_file("small.json", b"{}")
    assert emulator.stats.requests_by_route["initiate"] == 1


def test_unknown_size_write_of_a_small_text_file_is_one_call(fs, emulator):
    with fs.open("log.txt", "wb") as f:
        f.write(b"line\n" * 1000)
    assert emulator.stats.requests_by_route == {"simple_upload": 1}
    assert download(emulator, "log.txt") == b"line\n" * 1000


def test_a_failed_single_request_upload_publishes_nothing(emulator):
    fs = make_fs(emulator, retry={"attempts": 2, "base_delay": 0})
    emulator.faults.add(route="simple_upload", status=500)
    with pytest.raises(OSError, match="HTTP 500"):
        fs.pipe_file("fails.csv", b"x" * PART_SIZE)
    assert not fs.exists("fails.csv")
