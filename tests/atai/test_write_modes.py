"""Every write mode publishes exactly the bytes written, whatever the part plan."""

from __future__ import annotations

import os

import fsspec
import pytest

from atai_fs import ATAIFileSystem
from atai_fs.emulator import ATAIEmulator
from tests.conftest import BOTH_PROFILES, download, wait_for
from tests.sizes import PART_SIZE, SIZES

pytestmark = BOTH_PROFILES


def payload(size: int) -> bytes:
    return os.urandom(size)


def write_unknown_size(fs: ATAIFileSystem, name: str, data: bytes) -> None:
    with fs.open(name, "wb") as f:
        # Uneven writes cross part boundaries at arbitrary points.
        for start in range(0, len(data), 10_007):
            f.write(data[start : start + 10_007])


def write_known_size(fs: ATAIFileSystem, name: str, data: bytes) -> None:
    with fs.open(name, "wb", size=len(data)) as f:
        for start in range(0, len(data), 10_007):
            f.write(data[start : start + 10_007])


def write_put_file(fs: ATAIFileSystem, name: str, data: bytes, tmp_path) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    fs.put_file(str(local), name)


def write_pipe_file(fs: ATAIFileSystem, name: str, data: bytes) -> None:
    fs.pipe_file(name, data)


WRITERS = {
    "open-unknown-size": lambda fs, name, data, tmp: write_unknown_size(fs, name, data),
    "open-known-size": lambda fs, name, data, tmp: write_known_size(fs, name, data),
    "put_file": write_put_file,
    "pipe_file": lambda fs, name, data, tmp: write_pipe_file(fs, name, data),
}


@pytest.mark.parametrize("part_number_base", [0, 1], ids=["0-based", "1-based"])
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_written_bytes_are_published_exactly(fs, emulator, writer, size, tmp_path):
    data = payload(size)
    writer(fs, "atai://dir/sub/file.bin", data, tmp_path)
    assert download(emulator, "dir/sub/file.bin") == data


@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_every_upload_ends_completed(fs, emulator, writer, tmp_path):
    writer(fs, "state.bin", payload(3 * PART_SIZE + 5), tmp_path)
    states = [upload.state for upload in emulator.uploads.values()]
    assert states == ["completed"]


def test_overwriting_a_name_replaces_its_content(fs, emulator):
    fs.pipe_file("same.txt", b"first version")
    fs.pipe_file("same.txt", b"second")
    assert download(emulator, "same.txt") == b"second"


def test_fsspec_open_with_url_and_storage_options(emulator):
    with fsspec.open(
        "atai://logs/run-1.jsonl",
        "wb",
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
    ) as f:
        f.write(b'{"step": 1}\n')
        f.write(b'{"step": 2}\n')
    assert download(emulator, "logs/run-1.jsonl") == b'{"step": 1}\n{"step": 2}\n'


def test_text_mode_through_fsspec_open(emulator):
    with fsspec.open(
        "atai://notes.txt",
        "w",
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
    ) as f:
        f.write("héllo\n")
    assert download(emulator, "notes.txt") == "héllo\n".encode()


@pytest.fixture
def slow_parts_emulator():
    """Each PUT takes a while, as on a real link (1 MiB parts at 8 MB/s: ~130 ms), so
    PUTs that may overlap do, whatever else the machine is doing."""
    with ATAIEmulator(part_size=1 << 20, put_bandwidth=8e6) as emulator:
        yield emulator


def test_part_puts_overlap(slow_parts_emulator, tmp_path):
    emulator = slow_parts_emulator
    fs = ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    local = tmp_path / "big.bin"
    local.write_bytes(payload(8 << 20))
    fs.put_file(str(local), "big.bin")
    assert emulator.stats.max_puts_in_flight > 1
    assert emulator.stats.max_puts_in_flight <= fs.transfer.max_concurrency


def test_concurrency_is_bounded_across_files(slow_parts_emulator, tmp_path):
    emulator = slow_parts_emulator
    fs = ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        max_concurrency=2,
        skip_instance_cache=True,
    )
    for name in ("a.bin", "b.bin", "c.bin"):
        (tmp_path / name).write_bytes(payload(3 << 20))
    fs.put([str(tmp_path / name) for name in ("a.bin", "b.bin", "c.bin")], "atai://three/")
    assert emulator.stats.max_puts_in_flight == 2


def test_put_of_several_files_into_a_directory(fs, emulator, tmp_path):
    files = {}
    for name in ("a.csv", "b.csv", "c.csv"):
        files[name] = payload(2 * PART_SIZE + 7)
        (tmp_path / name).write_bytes(files[name])
    fs.put([str(tmp_path / name) for name in files], "atai://inbox/")
    for name, data in files.items():
        assert download(emulator, f"inbox/{name}") == data


def test_put_of_several_files_into_the_root(fs, emulator, tmp_path):
    for name in ("a.bin", "b.bin"):
        (tmp_path / name).write_bytes(b"x")
    fs.put([str(tmp_path / "a.bin"), str(tmp_path / "b.bin")], "atai://")
    assert fs.ls("atai://", detail=False) == ["a.bin", "b.bin"]


def test_known_size_parts_go_out_while_writing(fs, emulator):
    data = payload(6 * PART_SIZE)
    with fs.open("streamed.bin", "wb", size=len(data)) as f:
        f.write(data[: 4 * PART_SIZE])
        # Full parts reach the server before the writer has finished.
        assert wait_for(lambda: emulator.stats.part_puts >= 4)
        f.write(data[4 * PART_SIZE :])
    assert download(emulator, "streamed.bin") == data
