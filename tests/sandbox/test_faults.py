"""Transient faults on every route are survived: the file is published byte-identical,
exactly one session is completed, none is left open."""

from __future__ import annotations

import os

import pytest

from atai_fs import RetryPolicy
from atai_fs.emulator.sandbox import SandboxFault
from tests.sandbox.conftest import PART_SIZE, SANDBOX, make_fs, url

FAULTS = [
    SandboxFault(route="create", action="status", status=503, times=2),
    SandboxFault(route="create", action="reset", nth=1),
    SandboxFault(route="part", action="status", status=503, times=3),
    SandboxFault(route="part", action="status", status=429, retry_after=0, times=2),
    SandboxFault(route="part", action="reset", nth=2),
    SandboxFault(route="part", action="slow", delay=0.2, times=2),
    SandboxFault(route="complete", action="status", status=500, nth=1),
    SandboxFault(route="complete", action="reset", nth=1),
    SandboxFault(route="complete", action="truncated_json", nth=1),
    SandboxFault(route="*", action="latency", delay=0.02, probability=0.5),
]


def patient(emulator):
    return make_fs(emulator, retry=RetryPolicy(attempts=6, base_delay=0.01))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f"{f.route}-{f.action}-{f.status}")
@pytest.mark.parametrize("mode", ["put_file", "open", "open_size"])
def test_fault_is_survived(emulator, tmp_path, fault, mode):
    emulator.faults.add(fault)
    data = os.urandom(4 * PART_SIZE + 3)
    fs = patient(emulator)
    if mode == "put_file":
        local = tmp_path / "local.bin"
        local.write_bytes(data)
        fs.put_file(str(local), url("/workspace/f.bin"))
    else:
        size = len(data) if mode == "open_size" else None
        with fs.open(url("/workspace/f.bin"), "wb", size=size) as f:
            f.write(data)
    assert emulator.read_file(SANDBOX, "/workspace/f.bin") == data
    statuses = [s.status for s in emulator.sessions.values()]
    assert statuses.count("completed") == 1
    assert emulator.orphans() == []
    assert emulator.faults.total_fired >= 1 or fault.probability


def test_persistent_server_errors_fail_clearly_and_abort(emulator):
    emulator.faults.add(route="part", action="status", status=503)
    fs = make_fs(emulator, retry=RetryPolicy(attempts=2, base_delay=0))
    with pytest.raises(OSError, match="HTTP 503"):
        fs.pipe_file(url("/workspace/f.bin"), os.urandom(PART_SIZE))
    (session,) = emulator.sessions.values()
    assert session.status == "aborted"
    assert not emulator.exists(SANDBOX, "/workspace/f.bin")
