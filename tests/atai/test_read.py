"""The read side: listing with pseudo-directories, info, ranged reads, get, rm."""

from __future__ import annotations

import io
import os

import pandas as pd
import pytest

from atai_fs import ATAIFileSystem
from atai_fs.emulator import ATAIEmulator
from tests.conftest import BOTH_PROFILES, PART_SIZE

pytestmark = BOTH_PROFILES


@pytest.fixture
def tree(fs):
    files = {
        "top.txt": b"top",
        "runs/2026/a.bin": os.urandom(1000),
        "runs/2026/b.bin": os.urandom(2000),
        "runs/2025/c.bin": os.urandom(10),
        "runs/readme.md": b"# runs",
    }
    for name, data in files.items():
        fs.pipe_file(name, data)
    return files


def test_ls_root_shows_files_and_pseudo_directories(fs, tree):
    assert fs.ls("atai://", detail=False) == ["runs", "top.txt"]
    entries = {e["name"]: e for e in fs.ls("atai://")}
    assert entries["runs"]["type"] == "directory"
    assert entries["top.txt"]["type"] == "file"
    assert entries["top.txt"]["size"] == 3


def test_ls_nested_directory_with_detail(fs, tree):
    entries = fs.ls("atai://runs/2026/", detail=True)
    assert [e["name"] for e in entries] == ["runs/2026/a.bin", "runs/2026/b.bin"]
    assert [e["size"] for e in entries] == [1000, 2000]
    for entry in entries:
        assert entry["type"] == "file"
        assert entry["file_uid"]
        assert entry["file_type"]
        assert entry["file_status"]


def test_ls_of_a_file_lists_the_file(fs, tree):
    assert fs.ls("atai://top.txt", detail=False) == ["top.txt"]


def test_info_exists_and_size(fs, tree):
    assert fs.info("atai://runs/2026/a.bin")["size"] == 1000
    assert fs.info("atai://runs/2026")["type"] == "directory"
    assert fs.isdir("atai://runs")
    assert fs.isfile("atai://runs/readme.md")
    assert fs.exists("atai://runs/2025/c.bin")
    assert not fs.exists("atai://nope")
    assert fs.size("atai://top.txt") == 3
    with pytest.raises(FileNotFoundError):
        fs.info("atai://nope")


def test_listing_follows_cursors_across_pages(emulator, tree):
    fs = ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        list_page_size=2,
        skip_instance_cache=True,
    )
    assert sorted(fs.find("atai://")) == sorted(tree)
    assert emulator.stats.requests_by_route["metadata_list"] == 3


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 10), (100, 200), (PART_SIZE - 5, PART_SIZE + 5), (-10, None), (None, None), (5, 5)],
)
def test_range_reads(fs, start, end):
    data = os.urandom(2 * PART_SIZE)
    fs.pipe_file("ranged.bin", data)
    assert fs.cat_file("ranged.bin", start=start, end=end) == data[start:end]


def test_range_read_past_the_end_is_empty(fs):
    fs.pipe_file("short.bin", b"0123456789")
    assert fs.cat_file("short.bin", start=20, end=30) == b""
    assert fs.cat_file("short.bin", start=5, end=30) == b"56789"


def test_open_rb_is_seekable(fs):
    data = os.urandom(3 * PART_SIZE)
    fs.pipe_file("seek.bin", data)
    with fs.open("seek.bin", "rb", block_size=4096) as f:
        f.seek(PART_SIZE)
        assert f.read(100) == data[PART_SIZE : PART_SIZE + 100]
        f.seek(-50, 2)
        assert f.read() == data[-50:]


def test_parquet_read_fetches_much_less_than_the_file(fs, emulator):
    """With Range support a column costs a fraction of the file; without it (the strict
    profile) the file crosses the network once, never once per block."""
    frame = pd.DataFrame({f"c{i}": range(200_000) for i in range(10)})
    with fs.open("wide.parquet", "wb") as f:
        frame.to_parquet(f)
    size = fs.size("wide.parquet")
    emulator.stats.reset()
    with fs.open("wide.parquet", "rb", block_size=64 * 1024, cache_type="bytes") as f:
        back = pd.read_parquet(f, columns=["c3"])
    assert back["c3"].tolist() == frame["c3"].tolist()
    if emulator.config.ignore_range:
        assert emulator.stats.bytes_served <= size
    else:
        assert emulator.stats.bytes_served < size / 3


def test_read_parquet_by_url(emulator):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    frame = pd.DataFrame({"x": [1, 2, 3]})
    frame.to_parquet("atai://x.parquet", storage_options=options)
    pd.testing.assert_frame_equal(
        pd.read_parquet("atai://x.parquet", storage_options=options), frame
    )


def test_get_of_a_prefix_streams_to_disk(fs, tree, tmp_path):
    fs.get("atai://runs/", str(tmp_path / "local") + "/", recursive=True)
    for name, data in tree.items():
        if name.startswith("runs/"):
            assert (tmp_path / "local" / name.removeprefix("runs/")).read_bytes() == data


def test_get_file_leaves_no_partial_file_on_failure(fs, tmp_path):
    with pytest.raises(FileNotFoundError):
        fs.get_file("atai://missing.bin", str(tmp_path / "out.bin"))
    assert list(tmp_path.iterdir()) == []


def test_rm_recursive_and_rm_file(fs, tree):
    fs.rm("atai://runs/", recursive=True)
    assert fs.ls("atai://", detail=False) == ["top.txt"]
    fs.rm_file("atai://top.txt")
    assert fs.ls("atai://", detail=False) == []
    with pytest.raises(FileNotFoundError):
        fs.rm_file("atai://top.txt")


def test_glob(fs, tree):
    assert sorted(fs.glob("atai://runs/**/*.bin")) == [
        "runs/2025/c.bin",
        "runs/2026/a.bin",
        "runs/2026/b.bin",
    ]


def test_cache_is_invalidated_by_writes_and_deletes(fs, tree):
    assert "new.txt" not in fs.ls("atai://", detail=False)
    fs.pipe_file("new.txt", b"n")
    assert "new.txt" in fs.ls("atai://", detail=False)
    with fs.open("streamed.txt", "wb") as f:
        f.write(b"s")
    assert "streamed.txt" in fs.ls("atai://", detail=False)
    fs.rm("atai://new.txt")
    assert "new.txt" not in fs.ls("atai://", detail=False)


def test_shard_form_listing_is_understood(emulator, tree):
    # The emulator answers the shard form when no cursor parameter is given.
    fs = ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    items = fs._run_on_loop(fs.api.list_shard(0, 1000))
    assert sorted(item["file_id"] for item in items) == sorted(tree)


def test_pandas_read_back_via_open(fs):
    frame = pd.DataFrame({"a": [1.5, 2.5]})
    with fs.open("frame.csv", "wb") as f:
        frame.to_csv(io.TextIOWrapper(f, write_through=True), index=False)
    with fs.open("frame.csv", "rb") as f:
        pd.testing.assert_frame_equal(pd.read_csv(f), frame)


def test_emulator_fixture_is_isolated(emulator: ATAIEmulator):
    assert emulator.uploads == {}


def test_a_directory_another_process_wrote_after_our_listing_is_found(fs, emulator):
    """Dask and Ray workers write partitions through their own instances; the driver,
    whose listing is cached, must not answer that their directory does not exist."""
    assert not fs.exists("partitions")  # the listing is now cached
    elsewhere = ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    elsewhere.pipe_file("partitions/part.0.parquet", b"written by a worker")

    assert fs.isdir("partitions")
    assert fs.ls("partitions", detail=False) == ["partitions/part.0.parquet"]
