"""put_file is resumable: a failed or killed upload continues where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from atai_fs import ATAIFileSystem, RetryPolicy, UploadFailed
from atai_fs.emulator import ATAIEmulator
from tests.conftest import PART_SIZE, download, wait_for

PARTS = 40


@pytest.fixture
def local_file(tmp_path):
    path = tmp_path / "dataset.bin"
    path.write_bytes(os.urandom(PARTS * PART_SIZE - 123))
    return path


def impatient(emulator: ATAIEmulator) -> ATAIFileSystem:
    return ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        retry=RetryPolicy(attempts=2, base_delay=0),
        max_concurrency=2,
        skip_instance_cache=True,
    )


def fail_put_file_midway(emulator: ATAIEmulator, local_file) -> str:
    # The 20th part PUT is refused for good: the upload stops with parts sent before it.
    emulator.faults.add(route="storage_put", status=400, nth=20)
    with pytest.raises(UploadFailed, match="run the same put_file again") as info:
        impatient(emulator).put_file(str(local_file), "dataset.bin")
    emulator.faults.clear()
    return info.value.upload_id


def test_failed_put_file_is_left_resumable_and_named(emulator, local_file):
    upload_id = fail_put_file_midway(emulator, local_file)
    assert emulator.uploads[upload_id].state == "in_progress"
    assert len(emulator.uploads[upload_id].checkpointed_parts) >= 15
    assert "dataset.bin" not in emulator_names(emulator)


def test_rerunning_put_file_sends_only_the_missing_parts(emulator, local_file):
    upload_id = fail_put_file_midway(emulator, local_file)
    already = len(emulator.uploads[upload_id].checkpointed_parts)
    emulator.stats.reset()
    impatient(emulator).put_file(str(local_file), "dataset.bin")
    assert emulator.uploads[upload_id].state == "completed"
    assert download(emulator, "dataset.bin") == local_file.read_bytes()
    assert emulator.stats.part_puts == PARTS - already


def test_a_changed_local_file_is_not_spliced_onto_the_old_upload(emulator, local_file):
    upload_id = fail_put_file_midway(emulator, local_file)
    new_content = os.urandom(local_file.stat().st_size)  # same size, other bytes
    local_file.write_bytes(new_content)
    os.utime(local_file, ns=(1, 1))
    impatient(emulator).put_file(str(local_file), "dataset.bin")
    assert emulator.uploads[upload_id].state == "aborted"
    assert download(emulator, "dataset.bin") == new_content


def test_a_local_file_of_another_size_starts_afresh(emulator, local_file):
    upload_id = fail_put_file_midway(emulator, local_file)
    local_file.write_bytes(os.urandom(3 * PART_SIZE))
    impatient(emulator).put_file(str(local_file), "dataset.bin")
    assert emulator.uploads[upload_id].state == "aborted"
    assert download(emulator, "dataset.bin") == local_file.read_bytes()


def test_checkpoints_are_batched(tmp_path):
    with ATAIEmulator(part_size=PART_SIZE) as emulator:
        fs = ATAIFileSystem(
            api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
        )
        local = tmp_path / "big.bin"
        local.write_bytes(os.urandom(128 * PART_SIZE))
        fs.put_file(str(local), "big.bin")
        routes = emulator.stats.requests_by_route
        assert routes["storage_put"] == 128
        assert 1 <= routes.get("checkpoint", 0) <= 8
        assert emulator.stats.api_requests <= 10


def emulator_names(emulator):
    from tests.conftest import stored_names

    return stored_names(emulator)


def test_put_file_resumes_after_the_process_is_killed(tmp_path, local_file, monkeypatch):
    cache = tmp_path / "cache"
    # A slow link so the upload is still running when the process is killed.
    with ATAIEmulator(part_size=PART_SIZE, put_bandwidth=1_000_000) as emulator:
        script = textwrap.dedent(
            f"""
            from atai_fs import ATAIFileSystem
            fs = ATAIFileSystem(
                api_key={emulator.api_key!r}, endpoint_url={emulator.endpoint_url!r},
                max_concurrency=2, checkpoint_parts=4,
            )
            fs.put_file({str(local_file)!r}, "dataset.bin")
            """
        )
        env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
        process = subprocess.Popen([sys.executable, "-c", script], env=env)
        try:
            assert wait_for(
                lambda: any(len(u.checkpointed_parts) >= 12 for u in emulator.uploads.values()),
                timeout=60,
            )
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        (upload,) = emulator.uploads.values()
        assert upload.state == "in_progress"
        already = len(upload.checkpointed_parts)
        emulator.stats.reset()

        monkeypatch.setenv("XDG_CACHE_HOME", str(cache))  # the same machine, same records
        fs = ATAIFileSystem(
            api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
        )
        fs.put_file(str(local_file), "dataset.bin")
        assert emulator.uploads[upload.upload_id].state == "completed"
        assert download(emulator, "dataset.bin") == local_file.read_bytes()
        # Only what was missing went out again (parts in flight at the kill are re-sent).
        resent = emulator.stats.bytes_received
        missing = local_file.stat().st_size - already * PART_SIZE
        assert missing <= resent <= missing + 4 * PART_SIZE
