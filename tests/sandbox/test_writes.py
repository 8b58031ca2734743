"""Every write mode publishes byte-identical files, whatever the size around part boundaries."""

from __future__ import annotations

import os

import fsspec
import pytest

from atai_fs.emulator.sandbox import SandboxEmulator
from atai_fs.fs.sandbox import SandboxFileSystem
from tests.sandbox.conftest import PART_SIZE, SANDBOX, make_fs, url
from tests.sizes import SIZES


def only_session(emulator):
    (session,) = emulator.sessions.values()
    return session


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_put_file_publishes_the_exact_bytes(fs, emulator, tmp_path, size):
    data = os.urandom(size)
    local = tmp_path / "model.bin"
    local.write_bytes(data)
    fs.put_file(str(local), url("/workspace/model.bin"))
    assert emulator.read_file(SANDBOX, "/workspace/model.bin") == data
    session = only_session(emulator)
    assert session.status == "completed"
    assert session.kind == "file"
    assert session.part_count == -(-size // PART_SIZE)
    assert session.verified_parts == session.part_count  # every part carried its sha256


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_unknown_size_write_is_spooled_then_published(fs, emulator, size):
    data = os.urandom(size)
    with fs.open(url("/tmp/out.parquet"), "wb") as f:
        f.write(data[: size // 2])
        f.write(data[size // 2 :])
    assert emulator.read_file(SANDBOX, "/tmp/out.parquet") == data
    assert only_session(emulator).verified_parts == -(-size // PART_SIZE)


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_known_size_write_streams_parts_while_writing(fs, emulator, size):
    data = os.urandom(size)
    with fs.open(url("/data/stream.bin"), "wb", size=size) as f:
        for start in range(0, size, 10_000):
            f.write(data[start : start + 10_000])
    assert emulator.read_file(SANDBOX, "/data/stream.bin") == data


@pytest.mark.parametrize("size", [0, PART_SIZE + 1])
def test_pipe_file_publishes_bytes(fs, emulator, size):
    data = os.urandom(size)
    fs.pipe_file(url("/context/blob"), data)
    assert emulator.read_file(SANDBOX, "/context/blob") == data


def test_parts_follow_the_session_plan_not_a_client_guess(emulator, tmp_path):
    with SandboxEmulator(tmp_path / "emu", part_size=10_000) as odd:
        fs = make_fs(odd)
        data = os.urandom(35_001)
        fs.pipe_file(url("/workspace/odd.bin"), data)
        assert odd.read_file(SANDBOX, "/workspace/odd.bin") == data
        (session,) = odd.sessions.values()
        assert (session.part_size, session.part_count) == (10_000, 4)


def test_session_concurrency_caps_parts_in_flight(emulator, tmp_path):
    with SandboxEmulator(tmp_path / "emu", part_size=PART_SIZE, max_concurrency=2) as narrow:
        narrow.faults.add(route="part", action="latency", delay=0.05)
        fs = make_fs(narrow, max_concurrency=8)
        fs.pipe_file(url("/workspace/wide.bin"), os.urandom(12 * PART_SIZE))
        (session,) = narrow.sessions.values()
        assert session.max_parts_in_flight == 2
        assert narrow.stats.requests_by_route["part"] == 12  # never refused with 429


def test_filesystem_concurrency_caps_parts_in_flight_too(emulator):
    emulator.faults.add(route="part", action="latency", delay=0.05)
    fs = make_fs(emulator, max_concurrency=3)
    fs.pipe_file(url("/workspace/wide.bin"), os.urandom(12 * PART_SIZE))
    assert only_session(emulator).max_parts_in_flight == 3


def test_options_reach_the_session(emulator):
    fs = make_fs(emulator, user="agent", metadata={"run": 7})
    fs.pipe_file(url("/home/agent/notes.txt"), b"hi")
    session = only_session(emulator)
    assert session.user == "agent"
    assert session.metadata == {"run": 7}
    assert session.target_path == "/home/agent/notes.txt"


def test_machines_route_is_selectable(emulator):
    fs = make_fs(emulator, route="machines")
    fs.pipe_file(url("/workspace/m.txt"), b"via machines")
    assert emulator.read_file(SANDBOX, "/workspace/m.txt") == b"via machines"
    assert only_session(emulator).status == "completed"


def test_fsspec_open_with_storage_options(emulator, monkeypatch):
    monkeypatch.setenv("SANDBOX_API_ENDPOINT", emulator.endpoint_url)
    with fsspec.open(url("/tmp/out.csv"), "wb", api_key=emulator.api_key) as f:
        f.write(b"a,b\n1,2\n")
    assert emulator.read_file(SANDBOX, "/tmp/out.csv") == b"a,b\n1,2\n"


def test_environment_configures_the_filesystem(emulator, monkeypatch):
    monkeypatch.setenv("SANDBOX_API_KEY", emulator.api_key)
    monkeypatch.setenv("SANDBOX_API_ENDPOINT", emulator.endpoint_url)
    fs = fsspec.filesystem("sandbox", skip_instance_cache=True)
    assert isinstance(fs, SandboxFileSystem)
    fs.pipe_file(url("/tmp/env.txt"), b"env")
    assert emulator.read_file(SANDBOX, "/tmp/env.txt") == b"env"
    assert emulator.api_key not in repr(fs)


def test_pandas_writes_parquet_into_a_sandbox(emulator):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"a": range(1000), "b": ["x"] * 1000})
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    df.to_parquet(url("/tmp/out.parquet"), storage_options=options)
    published = emulator.path_of(SANDBOX, "/tmp/out.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(published), df)


@pytest.mark.parametrize(
    "bad", ["sandbox://sb_1", "sandbox://sb_1/", "sandbox:///workspace/x", "sandbox://"]
)
def test_paths_without_sandbox_and_absolute_path_are_refused(fs, emulator, bad):
    with pytest.raises(ValueError, match="SANDBOX_ID/ABSOLUTE/PATH"):
        fs.pipe_file(bad, b"x")
    assert emulator.stats.api_requests == 0


def test_missing_api_key_is_a_configuration_error(emulator, monkeypatch):
    monkeypatch.delenv("SANDBOX_API_KEY", raising=False)
    fs = SandboxFileSystem(endpoint_url=emulator.endpoint_url, skip_instance_cache=True)
    with pytest.raises(ValueError, match="SANDBOX_API_KEY"):
        fs.pipe_file(url("/tmp/x"), b"x")
    assert emulator.stats.api_requests == 0


def test_put_of_files_without_recursive_goes_file_by_file(fs, emulator, tmp_path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(name)
    fs.put([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], url("/workspace/in") + "/")
    assert emulator.read_file(SANDBOX, "/workspace/in/a.txt") == b"a.txt"
    assert emulator.read_file(SANDBOX, "/workspace/in/b.txt") == b"b.txt"
    assert {s.kind for s in emulator.sessions.values()} == {"file"}


def test_put_of_one_file_names_the_destination(fs, emulator, tmp_path):
    (tmp_path / "one.txt").write_text("one")
    fs.put(str(tmp_path / "one.txt"), url("/workspace/renamed.txt"))
    assert emulator.read_file(SANDBOX, "/workspace/renamed.txt") == b"one"


def test_filesystem_pickles_without_losing_its_options(emulator):
    import pickle

    fs = make_fs(emulator, route="machines", conflict="replace", user="dev")
    clone = pickle.loads(pickle.dumps(fs))
    assert (clone.route, clone.conflict, clone.user) == ("machines", "replace", "dev")
    clone.pipe_file(url("/home/dev/p.txt"), b"p")
    assert emulator.read_file(SANDBOX, "/home/dev/p.txt") == b"p"


@pytest.mark.parametrize("announced", [False, True], ids=["unknown-size", "known-size"])
def test_open_async_publishes_the_exact_bytes(emulator, announced):
    import asyncio

    data = os.urandom(5 * PART_SIZE + 3)

    async def main():
        async with make_fs(emulator, asynchronous=True) as fs:
            options = {"size": len(data)} if announced else {}
            async with await fs.open_async(url("/workspace/async.bin"), "wb", **options) as f:
                for start in range(0, len(data), 10_000):
                    await f.write(data[start : start + 10_000])

    asyncio.run(main())
    assert emulator.read_file(SANDBOX, "/workspace/async.bin") == data
    assert only_session(emulator).status == "completed"
