"""Writes that cannot land say why, before sending a byte where possible."""

from __future__ import annotations

import time

import pytest

from atai_fs import AtaiFsError, Conflict, FileTooLarge, InvalidRequest, NotFound
from atai_fs.targets.flow import FlowRunNotWaiting, WaitingUrlExpired

from .conftest import NODE_DEFS, image_resize_flow, make_flow_fs, two_input_flow

UNKNOWN_RUN = "0194c3a2-7b1e-7c3d-9f00-5a1b2c3d4e5f"
FIVE_GIB = 5 * 1024**3


@pytest.mark.parametrize("error_style", ["code", "plain", "docs"])
def test_unknown_run_is_file_not_found(make_emulator, error_style):
    emulator = make_emulator(error_style=error_style)
    fs = make_flow_fs(emulator)
    with pytest.raises(FileNotFoundError, match=f"flow run '{UNKNOWN_RUN}' does not exist"):
        fs.pipe_file(f"flow://{UNKNOWN_RUN}/image-input", b"data")
    assert emulator.stats.requests_by_route == {"flow_status": 1}  # not retried


def test_unknown_edge_is_file_not_found_naming_the_waiting_edges(fs, emulator, run_id):
    with pytest.raises(NotFound) as caught:
        fs.pipe_file(f"flow://{run_id}/image", b"data")
    assert isinstance(caught.value, FileNotFoundError)
    assert "image-input, table-input" in str(caught.value)
    assert emulator.stats.requests_by_route.get("storage_put", 0) == 0


def test_path_without_an_edge_is_refused(fs, run_id):
    with pytest.raises(InvalidRequest, match="flow://RUN_ID/EDGE_NAME"):
        fs.pipe_file(f"flow://{run_id}", b"data")


def test_expired_ttl_is_refused_before_sending(make_emulator):
    emulator = make_emulator(url_lifetime=0.2)
    fs = make_flow_fs(emulator)
    run_id = fs.start_run(image_resize_flow(), NODE_DEFS)["ID"]
    time.sleep(0.3)
    with pytest.raises(WaitingUrlExpired, match="start a new run") as caught:
        fs.pipe_file(f"flow://{run_id}/image-input", b"data")
    assert isinstance(caught.value, PermissionError)
    assert emulator.stats.requests_by_route.get("storage_put", 0) == 0
    # Faithful to the engine: the run keeps waiting for the expired URL forever.
    assert fs.run_status(run_id)["Status"] == "WAITING"


def test_url_refused_as_expired_by_storage_is_not_retried(fs, emulator, run_id):
    emulator.faults.add(route="storage_put", action="expire_url")
    with pytest.raises(WaitingUrlExpired, match="HTTP 403"):
        fs.pipe_file(f"flow://{run_id}/image-input", b"data")
    assert emulator.stats.requests_by_route["storage_put"] == 1


def test_run_not_waiting_names_its_status(fs, emulator):
    run_id = fs.start_run(image_resize_flow(), NODE_DEFS)["ID"]
    fs.pipe_file(f"flow://{run_id}/image-input", b"image")
    assert fs.wait_for_run(run_id, interval=0.01)["Status"] == "COMPLETE"
    with pytest.raises(FlowRunNotWaiting, match="the run is COMPLETE, not WAITING") as caught:
        fs.pipe_file(f"flow://{run_id}/image-input", b"again")
    assert caught.value.run_status == "COMPLETE"
    assert emulator.stats.requests_by_route["storage_put"] == 1


def test_run_in_error_names_its_status(make_emulator):
    emulator = make_emulator(url_lifetime=0.2, on_expiry="error")
    fs = make_flow_fs(emulator)
    run_id = fs.start_run(image_resize_flow(), NODE_DEFS)["ID"]
    time.sleep(0.3)
    with pytest.raises(FlowRunNotWaiting, match="ERROR"):
        fs.pipe_file(f"flow://{run_id}/image-input", b"data")


def test_second_upload_to_an_uploaded_edge_is_a_conflict(fs, run_id):
    fs.pipe_file(f"flow://{run_id}/image-input", b"first")
    with pytest.raises(Conflict, match="already uploaded") as caught:
        fs.pipe_file(f"flow://{run_id}/image-input", b"second")
    assert isinstance(caught.value, FileExistsError)


def test_file_over_five_gib_is_refused_before_any_request(fs, emulator, run_id, tmp_path):
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(FIVE_GIB + 1)  # sparse: nothing is written or read
    with pytest.raises(FileTooLarge, match="single-PUT limit"):
        fs.put_file(str(huge), f"flow://{run_id}/image-input")
    with pytest.raises(FileTooLarge):
        fs.open(f"flow://{run_id}/image-input", "wb", size=FIVE_GIB + 1)
    assert emulator.stats.requests_by_route == {"flow_test": 1}


def test_flow_refused_by_the_controller_is_not_retried(fs, emulator):
    flow = two_input_flow()
    flow["Nodes"][0]["Uses"] = "pupload/missing"
    with pytest.raises(AtaiFsError, match=r"unable to run flow: .*pupload/missing"):
        fs.start_run(flow, NODE_DEFS)
    assert emulator.stats.requests_by_route == {"flow_test": 1}


def test_plain_http_to_a_remote_controller_needs_allow_http():
    from atai_fs import ConfigurationError
    from atai_fs.fs.flow import FlowFileSystem

    with pytest.raises(ConfigurationError, match="allow_http"):
        FlowFileSystem(endpoint_url="http://controller.internal:1234/api/v1")
    fs = FlowFileSystem(
        endpoint_url="http://controller.internal:1234/api/v1",
        allow_http=True,
        skip_instance_cache=True,
    )
    assert fs.endpoint_url.startswith("http://controller.internal")


def test_wrong_endpoint_path_says_to_check_the_endpoint(emulator):
    from atai_fs.fs.flow import FlowFileSystem

    fs = FlowFileSystem(endpoint_url=emulator.endpoint_url + "/v2", skip_instance_cache=True)
    with pytest.raises(FileNotFoundError, match="check endpoint_url"):
        fs.run_status(UNKNOWN_RUN)
