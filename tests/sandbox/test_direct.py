"""The direct route for small files (spec 4.6): one PUT /v1/machines/{id}/file, as the
vendor SDK sends files up to 8 MiB; the conflict policy still holds."""

from __future__ import annotations

import os

import pytest

from atai_fs.emulator.sandbox import SandboxEmulator
from tests.sandbox.conftest import SANDBOX, api, make_fs, url
from tests.sizes import PART_SIZE


def direct_put(emulator: SandboxEmulator, query: str, data: bytes, prefix: str = "machines"):
    return api(
        emulator,
        "PUT",
        f"/v1/{prefix}/{SANDBOX}/file?{query}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )


# -- the emulator ----------------------------------------------------------------------


def test_direct_put_writes_the_file_and_answers_204(emulator):
    status, body, headers = direct_put(emulator, "path=/workspace/d/a.txt", b"hello")
    assert (status, body) == (204, None) and headers["x-request-id"]
    assert emulator.read_file(SANDBOX, "/workspace/d/a.txt") == b"hello"


def test_direct_put_overwrites_a_file_and_resolves_relative_paths(emulator):
    assert direct_put(emulator, "path=notes.txt", b"one")[0] == 204
    assert direct_put(emulator, "path=/workspace/notes.txt", b"two")[0] == 204
    assert emulator.read_file(SANDBOX, "/workspace/notes.txt") == b"two"
    assert direct_put(emulator, "path=b.txt&user=alice", b"home")[0] == 204
    assert emulator.read_file(SANDBOX, "/home/alice/b.txt") == b"home"


@pytest.mark.parametrize(
    "query",
    ["", "path=/etc/passwd", "path=/workspace/.nullspace/x", "path=/workspace/d&user=Bad%20User"],
)
def test_direct_put_follows_the_destination_rules(emulator, query):
    status, body, _ = direct_put(emulator, query, b"x")
    assert status == 400 and body["code"] == "invalid_request"


def test_a_directory_in_the_way_is_a_target_conflict(emulator):
    assert direct_put(emulator, "path=/workspace/d/a.txt", b"x")[0] == 204
    status, body, _ = direct_put(emulator, "path=/workspace/d", b"x")
    assert status == 409 and body["error_detail"]["reason"] == "target_conflict"


def test_a_body_over_max_part_bytes_is_size_limit_exceeded(tmp_path):
    with SandboxEmulator(tmp_path, max_part_bytes=1024) as emulator:
        status, body, _ = direct_put(emulator, "path=/workspace/big", b"x" * 1025)
        assert status == 413 and body["error_detail"]["reason"] == "size_limit_exceeded"
        assert not emulator.exists(SANDBOX, "/workspace/big")


def test_the_direct_route_is_served_under_machines_only(emulator):
    assert direct_put(emulator, "path=/workspace/a", b"x", prefix="sandboxes")[0] in (404, 405)


# -- the filesystem ----------------------------------------------------------------------


@pytest.mark.parametrize("conflict", ["merge", "replace"])
def test_small_writes_take_the_direct_route_when_overwriting_is_allowed(emulator, conflict):
    fs = make_fs(emulator, conflict=conflict)
    data = os.urandom(3 * PART_SIZE)
    result = fs.pipe_file(url("/workspace/small.bin"), data)
    assert result["route"] == "direct" and result["published_bytes"] == len(data)
    routes = emulator.stats.requests_by_route
    assert routes == {"direct": 1}
    assert emulator.read_file(SANDBOX, "/workspace/small.bin") == data


def test_put_file_and_open_take_the_direct_route(emulator, tmp_path):
    fs = make_fs(emulator, conflict="merge")
    local = tmp_path / "a.bin"
    local.write_bytes(os.urandom(1000))
    fs.put_file(str(local), url("/workspace/a.bin"))
    with fs.open(url("/workspace/b.bin"), "wb") as out:
        out.write(b"b" * 10)
    assert emulator.stats.requests_by_route == {"direct": 2}
    assert emulator.read_file(SANDBOX, "/workspace/a.bin") == local.read_bytes()
    assert emulator.read_file(SANDBOX, "/workspace/b.bin") == b"b" * 10


def test_with_conflict_error_an_existing_target_still_raises(emulator):
    fs = make_fs(emulator)  # conflict="error", the default
    fs.pipe_file(url("/workspace/once.txt"), b"first")
    assert "direct" not in emulator.stats.requests_by_route  # the session checks conflicts
    with pytest.raises(FileExistsError):
        fs.pipe_file(url("/workspace/once.txt"), b"second")
    assert emulator.read_file(SANDBOX, "/workspace/once.txt") == b"first"


def test_mode_create_takes_the_session_route_whatever_the_policy(emulator):
    fs = make_fs(emulator, conflict="merge")
    fs.pipe_file(url("/workspace/x.txt"), b"first")
    with pytest.raises(FileExistsError):
        fs.pipe_file(url("/workspace/x.txt"), b"second", mode="create")


def test_files_over_the_direct_limit_take_a_session(emulator):
    fs = make_fs(emulator, conflict="merge", direct_limit=PART_SIZE)
    fs.pipe_file(url("/workspace/at.bin"), b"a" * PART_SIZE)
    fs.pipe_file(url("/workspace/over.bin"), b"o" * (PART_SIZE + 1))
    routes = emulator.stats.requests_by_route
    assert routes["direct"] == 1 and routes["create"] == 1 and routes["complete"] == 1
    assert make_fs(emulator, conflict="merge", direct_limit=0).pipe_file(
        url("/workspace/z.bin"), b"z"
    )["session"]


def test_a_transient_failure_of_the_direct_put_is_retried(emulator):
    emulator.faults.add(route="direct", status=503, times=2)
    fs = make_fs(emulator, conflict="merge", retry={"base_delay": 0.01, "max_delay": 0.02})
    fs.pipe_file(url("/workspace/r.bin"), b"retried")
    assert emulator.stats.requests_by_route["direct"] == 3
    assert emulator.read_file(SANDBOX, "/workspace/r.bin") == b"retried"
