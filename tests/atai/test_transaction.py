"""Inside an fsspec transaction, files are published together at commit, or not at all."""

from __future__ import annotations

import os

import pytest

from tests.conftest import PART_SIZE, stored_names


def test_files_appear_only_when_the_transaction_commits(fs, emulator):
    data = {name: os.urandom(2 * PART_SIZE + 1) for name in ("t/a.bin", "t/b.bin")}
    with fs.transaction:
        for name, payload in data.items():
            with fs.open(name, "wb") as f:
                f.write(payload)
        assert stored_names(emulator) == set()
    assert stored_names(emulator) == set(data)
    for name, payload in data.items():
        assert fs.cat_file(name) == payload


def test_a_failed_transaction_publishes_nothing(fs, emulator):
    with pytest.raises(RuntimeError), fs.transaction:
        with fs.open("t/a.bin", "wb") as f:
            f.write(os.urandom(PART_SIZE))
        raise RuntimeError("pipeline failed")
    assert stored_names(emulator) == set()
    assert {upload.state for upload in emulator.uploads.values()} == {"aborted"}


@pytest.mark.parametrize("size", [10, 3 * PART_SIZE + 1], ids=["one request", "parts"])
def test_pipe_file_and_put_file_publish_only_at_commit(fs, emulator, tmp_path, size):
    local = tmp_path / "local.csv"
    local.write_bytes(os.urandom(size))
    with fs.transaction:
        fs.pipe_file("t/piped.csv", b"x" * size)
        fs.put_file(str(local), "t/put.csv")
        assert stored_names(emulator) == set()
    assert stored_names(emulator) == {"t/piped.csv", "t/put.csv"}
    assert fs.cat_file("t/put.csv") == local.read_bytes()


def test_a_rolled_back_transaction_aborts_pipe_file_and_put_file(fs, emulator, tmp_path):
    local = tmp_path / "local.bin"
    local.write_bytes(os.urandom(3 * PART_SIZE))
    with pytest.raises(RuntimeError), fs.transaction:
        fs.pipe_file("t/piped.bin", os.urandom(2 * PART_SIZE))
        fs.put_file(str(local), "t/put.bin")
        raise RuntimeError("pipeline failed")
    assert stored_names(emulator) == set()
    assert emulator.orphans() == []
