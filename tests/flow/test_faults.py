"""Transient failures are retried with the same bytes; the stored object is identical."""

from __future__ import annotations

import hashlib
import os

import pytest

from atai_fs import ProtocolError, RequestFailed

from .conftest import make_flow_fs

DATA_SIZE = 300_000


@pytest.mark.parametrize(
    "fault",
    [
        {"route": "storage_put", "action": "status", "status": 503, "times": 3},
        {"route": "storage_put", "action": "status", "status": 503, "retry_after": 0, "times": 1},
        {"route": "storage_put", "action": "status", "status": 500, "times": 2},
        {"route": "storage_put", "action": "reset", "times": 3},
        {"route": "storage_put", "action": "wrong_etag", "times": 2},
        {"route": "storage_put", "action": "slow", "delay": 0.2, "times": 1},
        {"route": "flow_status", "action": "status", "status": 503, "times": 3},
        {"route": "flow_status", "action": "reset", "times": 2},
    ],
    ids=lambda fault: "-".join(str(v) for v in fault.values()),
)
@pytest.mark.parametrize("mode", ["put_file", "open", "open_size", "pipe"])
def test_upload_survives_transient_faults_byte_identical(emulator, run_id, tmp_path, fault, mode):
    fs = make_flow_fs(emulator)
    data = os.urandom(DATA_SIZE)
    path = f"flow://{run_id}/image-input"
    emulator.faults.add(**fault)
    if mode == "put_file":
        local = tmp_path / "frame.bin"
        local.write_bytes(data)
        fs.put_file(str(local), path)
    elif mode == "open":
        with fs.open(path, "wb") as f:
            f.write(data)
    elif mode == "open_size":
        with fs.open(path, "wb", size=DATA_SIZE) as f:
            f.write(data)
    else:
        fs.pipe_file(path, data)
    assert sum(emulator.faults.fired.values()) >= 1
    stored = emulator.uploaded(run_id, "image-input")
    assert stored is not None
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()
    assert fs.exists(path)


@pytest.mark.parametrize("action", ["malformed_json", "truncated_json"])
def test_garbled_status_answer_fails_clearly_before_sending(emulator, run_id, action):
    fs = make_flow_fs(emulator)
    emulator.faults.add(route="flow_status", action=action, times=1)
    with pytest.raises(ProtocolError, match="expected JSON"):
        fs.pipe_file(f"flow://{run_id}/image-input", b"data")
    assert emulator.stats.requests_by_route.get("storage_put", 0) == 0


def test_persistent_503_fails_clearly_after_the_retry_budget(emulator, run_id):
    fs = make_flow_fs(emulator)
    emulator.faults.add(route="storage_put", action="status", status=503)
    with pytest.raises(RequestFailed, match="HTTP 503") as caught:
        fs.pipe_file(f"flow://{run_id}/image-input", b"data")
    assert "X-Amz-Signature=***" in str(caught.value)
    assert emulator.stats.requests_by_route["storage_put"] == 6
    assert emulator.uploaded(run_id, "image-input") is None


def test_non_retryable_storage_error_is_not_retried(emulator, run_id):
    fs = make_flow_fs(emulator)
    emulator.faults.add(route="storage_put", action="status", status=400)
    with pytest.raises(ValueError, match="HTTP 400"):
        fs.pipe_file(f"flow://{run_id}/image-input", b"data")
    assert emulator.stats.requests_by_route["storage_put"] == 1


def test_signature_never_appears_in_errors_or_reprs(emulator, run_id):
    fs = make_flow_fs(emulator)
    (waiting,) = [
        w
        for w in fs.run_status(run_id)["WaitingURLs"]
        if w["Artifact"]["EdgeName"] == "image-input"
    ]
    signature = waiting["PutURL"].rsplit("X-Amz-Signature=", 1)[1]
    emulator.faults.add(route="storage_put", action="status", status=503)
    with pytest.raises(RequestFailed) as caught:
        fs.pipe_file(f"flow://{run_id}/image-input", b"data")
    assert signature not in str(caught.value)
    f = fs.open(f"flow://{run_id}/table-input", "wb", size=4)
    assert signature not in repr(f)
    f.discard()
