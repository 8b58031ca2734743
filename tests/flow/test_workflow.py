"""The spec's end-to-end flow (section 6) done through atai_fs, and the ways to write."""

from __future__ import annotations

import io
import os

import fsspec
import pandas as pd
import pytest

from atai_fs.fs.flow import FlowFileSystem

from .conftest import NODE_DEFS, image_resize_flow, make_flow_fs


def test_example_workflow_start_upload_and_run_to_complete(fs, emulator, tmp_path):
    frame = tmp_path / "frame.jpg"
    frame.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(100_000))
    run = fs.start_run(image_resize_flow(), NODE_DEFS)
    assert run["Status"] == "WAITING"
    assert [w["Artifact"]["EdgeName"] for w in run["WaitingURLs"]] == ["image-input"]

    fs.put_file(str(frame), f"flow://{run['ID']}/image-input")

    final = fs.wait_for_run(run["ID"], interval=0.01, timeout=10)
    assert final["Status"] == "COMPLETE"
    assert final["WaitingURLs"] == []
    assert set(final["Artifacts"]) == {"image-input", "resized"}
    assert emulator.uploaded(run["ID"], "image-input") == frame.read_bytes()
    assert emulator.stats.requests_by_route["storage_put"] == 1


def test_put_file_sends_the_mime_type_of_the_local_file(fs, emulator, run_id, tmp_path):
    frame = tmp_path / "frame.jpg"
    frame.write_bytes(b"\xff\xd8\xff\xe0jpeg")
    fs.put_file(str(frame), f"flow://{run_id}/image-input")
    (waiting,) = [
        w
        for w in emulator.runs[run_id]["WaitingURLs"]
        if w["Artifact"]["EdgeName"] == "image-input"
    ]
    stored = emulator.store.get("my-uploads", waiting["Artifact"]["ObjectName"])
    assert stored.content_type == "image/jpeg"


def test_run_leaves_waiting_only_once_every_input_arrived(fs, run_id):
    fs.pipe_file(f"flow://{run_id}/image-input", b"image")
    assert fs.run_status(run_id)["Status"] == "WAITING"
    fs.pipe_file(f"flow://{run_id}/table-input", b"table")
    assert fs.run_status(run_id)["Status"] == "RUNNING"
    assert fs.run_status(run_id)["Status"] == "COMPLETE"


def test_to_parquet_into_an_edge_through_fsspec_open(emulator, run_id):
    df = pd.DataFrame({"x": range(1000), "y": [f"row {i}" for i in range(1000)]})
    url = f"flow://{run_id}/table-input"
    with fsspec.open(url, "wb", endpoint_url=emulator.endpoint_url, skip_instance_cache=True) as f:
        df.to_parquet(f)
    stored = emulator.uploaded(run_id, "table-input")
    assert stored is not None
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(stored)), df)


def test_protocol_is_registered_with_fsspec(emulator):
    fs = fsspec.filesystem("flow", endpoint_url=emulator.endpoint_url, skip_instance_cache=True)
    assert isinstance(fs, FlowFileSystem)


def test_endpoint_comes_from_the_environment(flow_emulator, monkeypatch):
    assert FlowFileSystem(skip_instance_cache=True).endpoint_url == flow_emulator.endpoint_url
    monkeypatch.delenv("FLOW_API_ENDPOINT")
    default = FlowFileSystem(skip_instance_cache=True).endpoint_url
    assert default == "http://localhost:1234/api/v1"


@pytest.mark.parametrize("size", [0, 1, 64 * 1024 - 1, 64 * 1024, 3 * 1024 * 1024 + 7])
def test_unknown_size_write_spools_and_puts_once_at_close(emulator, run_id, size):
    fs = make_flow_fs(emulator, spool_threshold=64 * 1024)
    data = os.urandom(size)
    with fs.open(f"flow://{run_id}/image-input", "wb") as f:
        for start in range(0, size, 10_000):
            f.write(data[start : start + 10_000])
        assert emulator.stats.requests_by_route.get("storage_put", 0) == 0
    assert emulator.stats.requests_by_route["storage_put"] == 1
    assert emulator.uploaded(run_id, "image-input") == data


@pytest.mark.parametrize("size", [0, 1, 200_000])
def test_known_size_write_puts_once_when_complete(fs, emulator, run_id, size):
    data = os.urandom(size)
    with fs.open(f"flow://{run_id}/image-input", "wb", size=size) as f:
        f.write(data)
    assert emulator.stats.requests_by_route["storage_put"] == 1
    assert emulator.uploaded(run_id, "image-input") == data


def test_exception_in_with_block_sends_nothing(fs, emulator, run_id):
    class Boom(Exception):
        pass

    before = emulator.stats.requests_by_route
    with pytest.raises(Boom), fs.open(f"flow://{run_id}/image-input", "wb") as f:
        f.write(b"half a frame")
        raise Boom
    assert emulator.stats.requests_by_route == before
    assert emulator.uploaded(run_id, "image-input") is None
    assert fs.run_status(run_id)["Status"] == "WAITING"


def test_exception_in_known_size_with_block_sends_nothing(fs, emulator, run_id):
    with (
        pytest.raises(ZeroDivisionError),
        fs.open(f"flow://{run_id}/image-input", "wb", size=100) as f,
    ):
        f.write(b"x" * 50)
        1 / 0  # noqa: B018
    assert emulator.stats.requests_by_route.get("storage_put", 0) == 0
    assert emulator.uploaded(run_id, "image-input") is None


def test_wait_for_run_reports_a_run_purged_after_finishing(make_emulator):
    emulator = make_emulator(purge_finished=True)
    fs = make_flow_fs(emulator)
    run_id = fs.start_run(image_resize_flow(), NODE_DEFS)["ID"]
    fs.pipe_file(f"flow://{run_id}/image-input", b"jpeg")
    last = fs.wait_for_run(run_id, statuses=("ERROR",), interval=0.01, timeout=10)
    assert (last["Status"], last["Purged"]) == ("COMPLETE", True)


def test_wait_for_run_times_out_clearly(fs, run_id):
    with pytest.raises(TimeoutError, match="still WAITING"):
        fs.wait_for_run(run_id, interval=0.01, timeout=0.05)


def test_filesystem_pickles_to_its_options(fs, emulator, run_id):
    import pickle

    clone = pickle.loads(pickle.dumps(fs))
    assert clone.endpoint_url == emulator.endpoint_url
    clone.pipe_file(f"flow://{run_id}/image-input", b"from a worker")
    assert emulator.uploaded(run_id, "image-input") == b"from a worker"
