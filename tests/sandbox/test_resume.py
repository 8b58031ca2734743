"""put_file resumes an interrupted session: only the missing parts are sent, and only for
the same local file (same length and SHA-256)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from atai_fs import RetryPolicy, UploadFailed
from tests.conftest import wait_for
from tests.sandbox.conftest import PART_SIZE, SANDBOX, make_fs, url

PARTS = 40
TARGET = url("/workspace/dataset.bin")


@pytest.fixture
def local_file(tmp_path):
    path = tmp_path / "dataset.bin"
    path.write_bytes(os.urandom(PARTS * PART_SIZE - 123))
    return path


def impatient(emulator):
    return make_fs(emulator, retry=RetryPolicy(attempts=2, base_delay=0), max_concurrency=2)


def fail_midway(emulator, local_file) -> str:
    emulator.faults.add(route="part", action="status", status=400, nth=20)  # refused for good
    with pytest.raises(UploadFailed, match="run the same put_file again") as info:
        impatient(emulator).put_file(str(local_file), TARGET)
    emulator.faults.clear()
    return info.value.upload_id


def test_failed_put_file_leaves_the_session_open_and_names_it(emulator, local_file):
    upload_id = fail_midway(emulator, local_file)
    session = emulator.sessions[upload_id]
    assert session.status == "uploading"
    assert len(session.accepted_parts) >= 15
    assert not emulator.exists(SANDBOX, "/workspace/dataset.bin")


def test_rerun_sends_only_the_parts_from_next_part_on(emulator, local_file):
    upload_id = fail_midway(emulator, local_file)
    next_part = min(set(range(PARTS)) - emulator.sessions[upload_id].accepted_parts)
    emulator.stats.reset()
    impatient(emulator).put_file(str(local_file), TARGET)
    assert emulator.sessions[upload_id].status == "completed"
    assert emulator.read_file(SANDBOX, "/workspace/dataset.bin") == local_file.read_bytes()
    assert emulator.stats.requests_by_route["part"] == PARTS - next_part
    assert emulator.stats.requests_by_route.get("create", 0) == 0


def test_a_changed_local_file_is_never_spliced_onto_the_session(emulator, local_file):
    upload_id = fail_midway(emulator, local_file)
    new_content = os.urandom(local_file.stat().st_size)  # same length, other bytes
    local_file.write_bytes(new_content)
    impatient(emulator).put_file(str(local_file), TARGET)
    assert emulator.sessions[upload_id].status == "aborted"
    assert emulator.read_file(SANDBOX, "/workspace/dataset.bin") == new_content


def test_a_local_file_of_another_length_starts_afresh(emulator, local_file):
    upload_id = fail_midway(emulator, local_file)
    local_file.write_bytes(os.urandom(3 * PART_SIZE))
    impatient(emulator).put_file(str(local_file), TARGET)
    assert emulator.sessions[upload_id].status == "aborted"
    assert emulator.read_file(SANDBOX, "/workspace/dataset.bin") == local_file.read_bytes()


def test_an_expired_session_is_replaced_by_a_fresh_one(emulator, local_file):
    upload_id = fail_midway(emulator, local_file)
    emulator._call(lambda: _expire(emulator, upload_id))
    impatient(emulator).put_file(str(local_file), TARGET)
    assert emulator.sessions[upload_id].status == "expired"
    assert emulator.read_file(SANDBOX, "/workspace/dataset.bin") == local_file.read_bytes()


def _expire(emulator, upload_id):
    from atai_fs.emulator.sandbox.context import CONTEXT_KEY

    emulator._app[CONTEXT_KEY].sessions.sessions[upload_id].expires_at = 0


def test_put_file_without_resume_aborts_on_failure(emulator, local_file):
    emulator.faults.add(route="part", action="status", status=400, nth=5)
    with pytest.raises(ValueError):
        impatient(emulator).put_file(str(local_file), TARGET, resume=False)
    (session,) = emulator.sessions.values()
    assert session.status == "aborted"


def test_put_file_resumes_after_the_process_is_killed(emulator, local_file):
    emulator.faults.add(route="part", action="latency", delay=0.05)
    script = textwrap.dedent(
        f"""
        from atai_fs.fs.sandbox import SandboxFileSystem
        fs = SandboxFileSystem(api_key={emulator.api_key!r},
                               endpoint_url={emulator.endpoint_url!r}, max_concurrency=2)
        fs.put_file({str(local_file)!r}, {TARGET!r})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    try:
        assert wait_for(
            lambda: any(len(s.accepted_parts) >= 10 for s in emulator.sessions.values()), 30
        ), "the child never got going"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    (session,) = emulator.sessions.values()
    assert session.status == "uploading"
    next_part = min(set(range(PARTS)) - emulator.sessions[session.upload_id].accepted_parts)
    emulator.faults.clear()
    emulator.stats.reset()
    make_fs(emulator).put_file(str(local_file), TARGET)
    assert emulator.read_file(SANDBOX, "/workspace/dataset.bin") == local_file.read_bytes()
    assert emulator.sessions[session.upload_id].status == "completed"
    assert len(emulator.sessions) == 1
    assert emulator.stats.requests_by_route["part"] == PARTS - next_part
