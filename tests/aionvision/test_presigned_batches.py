"""Large files of a put go in presigned batches (spec 3.8-3.10, flow 4): up to five per
batch-prepare, PUTs following the upload plan, one confirmation per file (failures
included), the batch cancelled when the caller abandons it."""

from __future__ import annotations

import pytest

from atai_fs import UploadFailed
from atai_fs.emulator.aionvision import AionFault, AionVisionEmulator
from tests.aionvision.conftest import LIMIT, local_file, make_fs, stored
from tests.aionvision.test_emulator import call
from tests.atai.test_interrupts import interrupt_when
from tests.conftest import wait_for


def large_files(tmp_path, count: int) -> tuple[list[str], list[bytes]]:
    made = [local_file(tmp_path, f"big{i}.png", LIMIT + 1 + i) for i in range(count)]
    return [p for p, _ in made], [d for _, d in made]


def batch_of(emulator: AionVisionEmulator, result) -> dict:
    return call(emulator, "GET", f"uploads/batch/{result.session_id}/status")[1]


def test_large_files_go_in_batches_of_five(fs, emulator, tmp_path):
    paths, contents = large_files(tmp_path, 7)
    results = fs.put(paths, "aionvision://big/")
    routes = emulator.stats.requests_by_route
    assert routes["batch_prepare"] == 2 and routes["batch_confirm"] == 2
    assert "request_presigned_url" not in routes and "confirm" not in routes
    assert [r.method for r in results] == ["presigned-batch"] * 7
    assert [stored(emulator, r.image_id) for r in results] == contents
    assert len({r.session_id for r in results}) == 2
    assert emulator.orphans() == []


def test_puts_follow_a_sequential_upload_plan(tmp_path):
    slow = AionFault(route="storage_put", action="slow", delay=0.3)
    with AionVisionEmulator(
        data_dir=tmp_path / "emulator",
        stream_limit=LIMIT,
        batch_strategy="sequential",
        faults=[slow],
    ) as emulator:
        paths, _ = large_files(tmp_path, 3)
        make_fs(emulator, max_concurrency=8).put(paths, "aionvision://seq/")
        assert emulator.stats.max_puts_in_flight <= 1


def test_puts_stay_within_max_concurrent(tmp_path):
    slow = AionFault(route="storage_put", action="slow", delay=0.3)
    with AionVisionEmulator(
        data_dir=tmp_path / "emulator", stream_limit=LIMIT, batch_max_concurrent=2, faults=[slow]
    ) as emulator:
        paths, _ = large_files(tmp_path, 5)
        make_fs(emulator, max_concurrency=8).put(paths, "aionvision://par/")
        assert emulator.stats.max_puts_in_flight <= 2


def test_transient_storage_faults_mid_batch_are_retried(fs, emulator, tmp_path):
    emulator.faults.add(route="storage_put", status=503, times=2)
    paths, contents = large_files(tmp_path, 3)
    results = fs.put(paths, "aionvision://retry/")
    assert [stored(emulator, r.image_id) for r in results] == contents


def test_a_put_failing_mid_batch_is_confirmed_as_failed_and_named(fs, emulator, tmp_path):
    emulator.faults.add(route="storage_put", status=400, nth=2)
    paths, contents = large_files(tmp_path, 3)
    with pytest.raises(UploadFailed, match="1 of 3 files failed") as raised:
        fs.put(paths, "aionvision://half/")
    failed = [r for r in fs.last_results if r.status == "failed"]
    assert len(failed) == 1 and failed[0].path in str(raised.value)
    ok = [r for r in fs.last_results if r.status == "uploaded"]
    assert sorted(stored(emulator, r.image_id) for r in ok) == sorted(
        data for path, data in zip(paths, contents, strict=True) if path != failed[0].path
    )
    report = batch_of(emulator, failed[0])
    assert report["counts"]["failed"] == 1 and report["counts"]["completed"] == 2
    assert failed[0].name in report["error_summary"]["messages"][0]


def test_a_put_past_timeout_per_upload_fails_that_file(tmp_path):
    slow = AionFault(route="storage_put", action="slow", delay=2.0, nth=1)
    with AionVisionEmulator(
        data_dir=tmp_path / "emulator", stream_limit=LIMIT, upload_timeout=0.2, faults=[slow]
    ) as emulator:
        paths, _ = large_files(tmp_path, 2)
        fs = make_fs(emulator)
        with pytest.raises(UploadFailed, match="timeout_per_upload"):
            fs.put(paths, "aionvision://slow/")
        assert [r.status for r in fs.last_results].count("uploaded") == 1


def test_an_exception_mid_batch_cancels_its_session(fs, emulator, tmp_path):
    emulator.faults.add(route="batch_confirm", status=400)
    paths, _ = large_files(tmp_path, 2)
    with pytest.raises(ValueError):  # a 400 is an InvalidRequest
        fs.put(paths, "aionvision://x/")
    assert emulator.stats.requests_by_route["session_cancel"] == 1
    assert emulator.files == {} and emulator.usage == 0


def test_ctrl_c_mid_batch_cancels_its_session(tmp_path):
    slow = AionFault(route="storage_put", action="slow", delay=2.0)
    with AionVisionEmulator(
        data_dir=tmp_path / "emulator", stream_limit=LIMIT, faults=[slow]
    ) as emulator:
        paths, _ = large_files(tmp_path, 2)
        fs = make_fs(emulator)
        watcher = interrupt_when(lambda: emulator.stats.requests_by_route.get("storage_put"))
        with pytest.raises(KeyboardInterrupt):
            fs.put(paths, "aionvision://x/")
        watcher.join(5)
        assert wait_for(lambda: emulator.stats.requests_by_route.get("session_cancel") == 1)
        assert "batch_confirm" not in emulator.stats.requests_by_route
        assert emulator.files == {}
        (session_id,) = emulator.session_ids
        status = call(emulator, "GET", f"uploads/sessions/{session_id}/status")[1]
        assert status["status"] == "cancelled"


def test_ctrl_c_while_following_a_stream_batch_cancels_its_session(tmp_path):
    with AionVisionEmulator(
        data_dir=tmp_path / "emulator", stream_limit=LIMIT, processing_delay=600
    ) as emulator:
        paths = [local_file(tmp_path, f"s{i}.png", 100)[0] for i in range(3)]
        fs = make_fs(emulator)
        watcher = interrupt_when(lambda: emulator.stats.requests_by_route.get("session_status"))
        with pytest.raises(KeyboardInterrupt):
            fs.put(paths, "aionvision://s/")
        watcher.join(5)
        assert wait_for(lambda: emulator.stats.requests_by_route.get("session_cancel") == 1)
        assert emulator.usage == 0  # the unprocessed files were refunded


def test_an_api_without_batch_prepare_falls_back_to_single_presigned(fs, emulator, tmp_path):
    emulator.faults.add(route="batch_prepare", status=404)
    paths, contents = large_files(tmp_path, 2)
    results = fs.put(paths, "aionvision://old/")
    assert [r.method for r in results] == ["presigned"] * 2
    assert [stored(emulator, r.image_id) for r in results] == contents


def test_a_404_after_the_batch_was_prepared_is_no_reason_to_upload_again(fs, emulator, tmp_path):
    emulator.faults.add(route="batch_confirm", status=404)
    paths, _ = large_files(tmp_path, 2)
    with pytest.raises(FileNotFoundError):
        fs.put(paths, "aionvision://x/")
    assert "request_presigned_url" not in emulator.stats.requests_by_route
    assert emulator.stats.requests_by_route["session_cancel"] == 1
