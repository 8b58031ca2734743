"""An interrupt stops a transfer at once: no PUT and no complete after it, the upload
aborted, or (a resumable put_file) left resumable and said so; fs.put's siblings of a
failed file end cleanly too."""

from __future__ import annotations

import _thread
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from atai_fs import RetryPolicy, UploadFailed
from atai_fs.emulator import ATAIEmulator
from tests.conftest import make_fs, stored_names, wait_for

PART = 1 << 20


@pytest.fixture
def slow_emulator(tmp_path):
    """1 MiB parts at 2 MB/s each: an 8 MiB upload takes seconds, time to interrupt it."""
    with ATAIEmulator(data_dir=tmp_path / "emulator", part_size=PART, put_bandwidth=2e6) as emu:
        yield emu


def interrupt_when(predicate) -> threading.Thread:
    """Raise KeyboardInterrupt in the main thread (as Ctrl-C does) once ``predicate``."""

    def watch() -> None:
        if wait_for(predicate, timeout=30):
            _thread.interrupt_main()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


WRITES = {
    "put_file, resumable": lambda fs, local: fs.put_file(local, "big.bin"),
    "put_file(resume=False)": lambda fs, local: fs.put_file(local, "big.bin", resume=False),
    "pipe_file": lambda fs, local: fs.pipe_file("big.bin", Path(local).read_bytes()),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_ctrl_c_stops_the_upload_in_a_long_lived_process(slow_emulator, tmp_path, write, caplog):
    emulator = slow_emulator
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(8 * PART))
    fs = make_fs(emulator, max_concurrency=2)
    watcher = interrupt_when(lambda: emulator.stats.part_puts >= 1)
    with pytest.raises(KeyboardInterrupt):
        write(fs, str(local))
    watcher.join(5)
    puts_at_interrupt = emulator.stats.part_puts
    time.sleep(1.0)  # what a still-running upload would do meanwhile
    assert emulator.stats.part_puts <= puts_at_interrupt + 2  # at most the PUTs in flight
    assert emulator.stats.requests_by_route.get("complete", 0) == 0
    assert stored_names(emulator) == set()
    (upload,) = emulator.uploads.values()
    if emulator.stats.requests_by_route.get("checkpoint"):  # the resumable one
        assert upload.state == "in_progress"
        assert "run the same put_file again" in caplog.text
    else:
        assert upload.state == "aborted"


def test_ctrl_c_in_a_script_leaves_a_resumable_upload_that_says_so(slow_emulator, tmp_path):
    emulator = slow_emulator
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(8 * PART))
    script = textwrap.dedent(
        f"""
        import os
        os.environ["XDG_CACHE_HOME"] = {str(tmp_path / "cache")!r}
        from atai_fs import ATAIFileSystem
        fs = ATAIFileSystem(api_key={emulator.api_key!r}, endpoint_url={emulator.endpoint_url!r},
                            max_concurrency=2, rate_limit="off")
        fs.put_file({str(local)!r}, "big.bin")
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert wait_for(lambda: emulator.stats.part_puts >= 1, 30)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode != 0
    assert "interrupted" in stderr and "run the same put_file again" in stderr
    (upload,) = emulator.uploads.values()
    assert upload.state == "in_progress"
    assert stored_names(emulator) == set()


def test_a_failed_file_in_put_leaves_every_sibling_clean(tmp_path):
    with ATAIEmulator(data_dir=tmp_path / "emulator", part_size=64 * 1024) as emulator:
        for index in range(12):
            (tmp_path / f"f{index:02d}.bin").write_bytes(os.urandom(3 * 64 * 1024))
        # One PUT is refused for good: its file fails, fsspec cancels the others.
        emulator.faults.add(route="storage_put", status=400, nth=5)
        fs = make_fs(emulator, retry=RetryPolicy(attempts=2, base_delay=0))
        sources = [str(tmp_path / f"f{index:02d}.bin") for index in range(12)]
        with pytest.raises(UploadFailed) as caught:
            fs.put(sources, "atai://many/", batch_size=12)
        in_progress = {u.upload_id for u in emulator.uploads.values() if u.state == "in_progress"}
        message = str(caught.value)
        # Every upload still in progress is named in the error, to be resumed; none else.
        unnamed = {u for u in in_progress if u not in message}
        assert not unnamed, (unnamed, message)


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_ctrl_c_while_the_initiate_answer_is_on_its_way_leaves_no_orphan(tmp_path, write, caplog):
    """The server created the upload, the client has not heard yet: the interrupt waits
    for the answer, then aborts the upload (or keeps it resumable and names it), instead
    of leaving one nobody knows of."""
    with ATAIEmulator(data_dir=tmp_path / "emulator", part_size=PART) as emulator:
        emulator.faults.add(route="initiate", action="slow", delay=1.5)
        local = tmp_path / "big.bin"
        local.write_bytes(os.urandom(4 * PART))
        fs = make_fs(emulator)
        watcher = interrupt_when(lambda: len(emulator.uploads) >= 1)
        with pytest.raises(KeyboardInterrupt):
            write(fs, str(local))
        watcher.join(5)
        (upload,) = emulator.uploads.values()
        assert emulator.stats.part_puts == 0
        if "run the same put_file again" in caplog.text:  # the resumable one
            assert upload.state == "in_progress"
            assert upload.upload_id in caplog.text
            fs.put_file(str(local), "big.bin")  # resumes that very upload
            assert upload.state == "completed"
            assert len(emulator.uploads) == 1
        else:
            assert upload.state == "aborted"
        assert stored_names(emulator) <= {"big.bin"}
