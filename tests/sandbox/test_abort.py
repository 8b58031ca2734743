"""A write that does not end in a successful close is aborted with DELETE; nothing appears."""

from __future__ import annotations

import gc
import os

import pytest

from tests.conftest import wait_for
from tests.sandbox.conftest import PART_SIZE, SANDBOX, url


class Boom(Exception):
    pass


def test_exception_in_with_block_aborts_the_session(fs, emulator):
    with pytest.raises(Boom), fs.open(url("/workspace/half.bin"), "wb", size=4 * PART_SIZE) as f:
        f.write(os.urandom(2 * PART_SIZE))
        raise Boom
    (session,) = emulator.sessions.values()
    assert session.status == "aborted"
    assert session.reserved_staging_bytes == 0
    assert emulator.stats.requests_by_route["abort"] == 1
    assert not emulator.exists(SANDBOX, "/workspace/half.bin")


def test_exception_in_with_block_of_unknown_size_never_creates_a_session(fs, emulator):
    with pytest.raises(Boom), fs.open(url("/workspace/half.bin"), "wb") as f:
        f.write(os.urandom(3 * PART_SIZE))
        raise Boom
    assert emulator.sessions == {}
    assert emulator.stats.api_requests == 0


def test_exception_keeps_the_previous_version(fs, emulator):
    fs.pipe_file(url("/workspace/report.csv"), b"a,b\n1,2\n")
    with pytest.raises(Boom), fs.open(url("/workspace/report.csv"), "wb", size=10) as f:
        f.write(b"x,y\n")
        raise Boom
    assert emulator.read_file(SANDBOX, "/workspace/report.csv") == b"a,b\n1,2\n"


def test_garbage_collected_unclosed_file_is_aborted(fs, emulator):
    f = fs.open(url("/workspace/forgotten.bin"), "wb", size=3 * PART_SIZE)
    f.write(os.urandom(PART_SIZE + 10))
    upload_id = f._uploader.plan.upload_id
    del f
    gc.collect()
    assert wait_for(lambda: emulator.sessions[upload_id].status == "aborted")
    assert not emulator.exists(SANDBOX, "/workspace/forgotten.bin")


def test_writing_fewer_bytes_than_announced_aborts(fs, emulator):
    with (
        pytest.raises(ValueError, match="only 5 of the 10 bytes"),
        fs.open(url("/workspace/short.bin"), "wb", size=10) as f,
    ):
        f.write(b"12345")
    (session,) = emulator.sessions.values()
    assert session.status == "aborted"
