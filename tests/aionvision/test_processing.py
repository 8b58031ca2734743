"""Processing status of uploaded files: info() of a name this filesystem uploaded, and an
explicit wait (fs.wait, wait=True on writes) with a timeout and clear errors for failed
or stuck processing.  Time is virtual, shared by client and emulator: minutes of
processing play in a moment."""

from __future__ import annotations

import pytest

from atai_fs import ProcessingFailed, ProcessingTimeout, RetryPolicy, UploadFailed
from atai_fs.emulator.aionvision import AionFault, AionVisionEmulator
from tests.aionvision.conftest import LIMIT, VirtualClock, local_file, make_fs


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def emulator_on(tmp_path, clock: VirtualClock, **options) -> AionVisionEmulator:
    return AionVisionEmulator(
        data_dir=tmp_path / "emulator", stream_limit=LIMIT, now=clock, **options
    )


def fs_on(emulator, clock: VirtualClock, **options):
    retry = RetryPolicy(attempts=3, base_delay=0.01, clock=clock, sleep=clock.sleep)
    return make_fs(emulator, retry=retry, poll_interval=5.0, **options)


def test_info_reports_the_processing_status_of_an_uploaded_name(tmp_path, clock):
    with emulator_on(tmp_path, clock, processing_delay=60) as emulator:
        fs = fs_on(emulator, clock)
        path, data = local_file(tmp_path, "a.png", 300)
        result = fs.put_file(path, "aionvision://shots/a.png")
        info = fs.info("aionvision://shots/a.png")
        assert info["type"] == "file" and info["size"] == len(data)
        assert info["image_id"] == result.image_id
        assert info["status"] == "processing" and info["is_terminal"] is False
        clock.advance(61)
        assert fs.info("aionvision://shots/a.png")["status"] == "completed"
        assert fs.exists("aionvision://shots/a.png")


def test_info_of_a_name_not_uploaded_here_is_not_found(fs):
    with pytest.raises(FileNotFoundError, match="not uploaded by this filesystem"):
        fs.info("aionvision://elsewhere.png")
    assert not fs.exists("aionvision://elsewhere.png")


def test_put_file_with_wait_returns_once_processed(tmp_path, clock):
    with emulator_on(tmp_path, clock, processing_delay=120) as emulator:
        fs = fs_on(emulator, clock)
        path, _ = local_file(tmp_path, "a.png", 300)
        fs.put_file(path, "aionvision://a.png", wait=True)
        assert fs.info("aionvision://a.png")["status"] == "completed"
        assert 120 <= clock.slept <= 120 + 2 * 5.0  # polled every poll_interval


def test_wait_for_several_names(tmp_path, clock):
    with emulator_on(tmp_path, clock, processing_delay=30) as emulator:
        fs = fs_on(emulator, clock)
        fs.pipe_file("aionvision://x.txt", b"x" * 10)
        fs.pipe_file("aionvision://y.txt", b"y" * 10)
        final = fs.wait(["aionvision://x.txt", "aionvision://y.txt"], timeout=300)
        assert {s["unified_status"] for s in final.values()} == {"completed"}
        assert fs.info("aionvision://y.txt")["size"] == 10


def test_wait_gives_up_after_its_timeout(tmp_path, clock):
    with emulator_on(tmp_path, clock, processing_delay=3600, stuck_after=7200) as emulator:
        fs = fs_on(emulator, clock)
        fs.pipe_file("aionvision://x.txt", b"x" * 10)
        with pytest.raises(ProcessingTimeout, match="still processing 1 of 1") as raised:
            fs.wait("aionvision://x.txt", timeout=60)
        assert isinstance(raised.value, TimeoutError)
        assert clock.slept <= 60


def test_failed_processing_is_a_clear_error(tmp_path, clock):
    fault = AionFault(route="processing", action="reject")
    with emulator_on(tmp_path, clock, faults=[fault]) as emulator:
        fs = fs_on(emulator, clock)
        path, _ = local_file(tmp_path, "a.png", 300)
        with pytest.raises(ProcessingFailed, match=r"a.png .* failed processing") as raised:
            fs.put_file(path, "aionvision://a.png", wait=True)
        assert raised.value.upload_id == fs.last_results[0].image_id
        assert fs.info("aionvision://a.png")["status"] == "failed"


def test_stuck_processing_is_a_clear_error(tmp_path, clock):
    with emulator_on(tmp_path, clock, processing_delay=3600, stuck_after=0) as emulator:
        fs = fs_on(emulator, clock)
        fs.pipe_file("aionvision://x.txt", b"x" * 10)
        with pytest.raises(ProcessingFailed, match="stuck in processing"):
            fs.wait("aionvision://x.txt")
        assert fs.info("aionvision://x.txt")["is_stuck"] is True


def test_put_with_wait_fails_files_whose_processing_fails(tmp_path, clock):
    fault = AionFault(route="processing", action="reject", nth=2)
    with emulator_on(tmp_path, clock, faults=[fault], processing_delay=30) as emulator:
        fs = fs_on(emulator, clock, wait=False)
        paths = [local_file(tmp_path, f"big{i}.png", LIMIT + 1 + i)[0] for i in range(3)]
        with pytest.raises(UploadFailed, match=r"1 of 3 files failed.*processing failed"):
            fs.put(paths, "aionvision://big/", wait=True)
        assert [r.status for r in fs.last_results].count("uploaded") == 2
        assert clock.slept >= 30  # the batch was followed until processed


def test_put_without_wait_leaves_processing_files_uploaded(tmp_path, clock):
    with emulator_on(tmp_path, clock, processing_delay=30) as emulator:
        fs = fs_on(emulator, clock, wait=False)
        paths = [local_file(tmp_path, f"big{i}.png", LIMIT + 1 + i)[0] for i in range(2)]
        results = fs.put(paths, "aionvision://big/")
        assert [r.status for r in results] == ["uploaded"] * 2
        assert "batch_status" not in emulator.stats.requests_by_route
        assert fs.info("aionvision://big/big0.png")["status"] == "processing"
