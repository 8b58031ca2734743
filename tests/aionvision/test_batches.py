"""put of many files: quota first, optional dedupe, stream-batch chunks, sessions."""

from __future__ import annotations

import pytest
from fsspec.callbacks import Callback

from atai_fs import UploadFailed
from atai_fs.emulator.aionvision import AionFault, AionVisionEmulator
from atai_fs.targets.aionvision import QuotaExceeded, UnsupportedFormat
from tests.aionvision.conftest import LIMIT, local_file, make_fs, stored


class Progress(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[int] = []

    def call(self, *args, **kwargs) -> None:
        self.updates.append(self.value)


def photos(tmp_path, count: int, size: int = 700) -> tuple[list[str], list[bytes]]:
    made = [local_file(tmp_path, f"p{i:03d}.jpg", size + i) for i in range(count)]
    return [p for p, _ in made], [d for _, d in made]


def test_put_sends_batches_of_the_tier_size_and_returns_every_result(fs, emulator, tmp_path):
    paths, contents = photos(tmp_path, 23)
    progress = Progress()
    results = fs.put(paths, "aionvision://batch-2026-11/", callback=progress)
    assert fs.stream_batch_size == 10  # the free tier's
    assert emulator.stats.requests_by_route["stream_batch"] == 3
    assert emulator.stats.requests_by_route["quota_check"] == 1
    assert [r.path for r in results] == paths
    assert all(r.status == "uploaded" and r.method == "stream-batch" for r in results)
    assert [stored(emulator, r.image_id) for r in results] == contents
    assert fs.last_results == results
    assert progress.size == 23 and progress.value == 23


def test_batch_size_is_configurable(emulator, tmp_path):
    fs = make_fs(emulator, stream_batch_size=4)
    paths, _ = photos(tmp_path, 9)
    fs.put(paths, "aionvision://x/")
    assert emulator.stats.requests_by_route["stream_batch"] == 3


def test_large_files_of_a_put_go_in_a_presigned_batch(fs, emulator, tmp_path):
    small, _ = photos(tmp_path, 3)
    big, big_data = local_file(tmp_path, "big.png", LIMIT + 1)
    results = {r.path: r for r in fs.put([*small, big], "aionvision://mixed/")}
    assert [results[p].method for p in small] == ["stream-batch"] * 3
    assert results[big].method == "presigned-batch"
    assert stored(emulator, results[big].image_id) == big_data
    assert emulator.stats.requests_by_route["batch_prepare"] == 1
    assert "request_presigned_url" not in emulator.stats.requests_by_route


def test_quota_refusal_is_a_clear_error_before_any_upload(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path / "emulator", monthly_quota=5) as emulator:
        paths, _ = photos(tmp_path, 6)
        with pytest.raises(QuotaExceeded, match="cannot take 6 more uploads"):
            make_fs(emulator).put(paths, "aionvision://q/")
        assert "stream_batch" not in emulator.stats.requests_by_route
        assert emulator.files == {}


def test_skip_duplicates_uploads_only_unique_files(fs, emulator, tmp_path):
    paths, _ = photos(tmp_path, 5)
    first = fs.put(paths[:3], "aionvision://d/")
    twin, _ = local_file(tmp_path, "twin.jpg", 0)
    (tmp_path / "twin.jpg").write_bytes((tmp_path / "p003.jpg").read_bytes())
    results = fs.put([*paths, twin], "aionvision://d/", skip_duplicates=True)
    assert [r.status for r in results] == ["skipped"] * 3 + ["uploaded", "uploaded", "skipped"]
    assert all(r.method == "check-duplicates" for r in results if r.status == "skipped")
    assert len(emulator.files) == 5  # the three earlier ones and two new
    assert {r.image_id for r in first}.isdisjoint({r.image_id for r in results})
    assert emulator.stats.requests_by_route["check_duplicates"] == 1


def test_put_file_with_skip_duplicates_skips_a_stored_file(fs, emulator, tmp_path):
    path, _ = local_file(tmp_path, "a.png", 100)
    first = fs.put_file(path, "aionvision://a.png")
    again = fs.put_file(path, "aionvision://a.png", skip_duplicates=True)
    assert again.status == "skipped" and len(emulator.files) == 1
    assert first.image_id in emulator.files


def test_retryable_rejections_are_sent_again(fs, emulator, tmp_path):
    emulator.faults.add(AionFault(route="stream_batch_file", action="reject", times=2))
    paths, contents = photos(tmp_path, 6)
    results = fs.put(paths, "aionvision://r/")
    assert all(r.status == "uploaded" for r in results)
    assert [stored(emulator, r.image_id) for r in results] == contents
    assert emulator.stats.requests_by_route["stream_batch"] == 2


def test_rejections_that_persist_fail_those_files_only(emulator, tmp_path):
    from atai_fs import RetryPolicy

    fs = make_fs(emulator, retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01))
    emulator.faults.add(AionFault(route="stream_batch_file", action="reject", nth=2))
    emulator.faults.add(AionFault(route="stream_batch_file", action="reject", nth=5))
    paths, _ = photos(tmp_path, 4)
    with pytest.raises(UploadFailed, match=r"1 of 4 files failed.*p001\.jpg"):
        fs.put(paths, "aionvision://r/")
    assert [r.status for r in fs.last_results] == ["uploaded", "failed", "uploaded", "uploaded"]
    assert "rejected" in fs.last_results[1].error


def test_sessions_are_followed_until_done_with_progress(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path / "emulator", processing_delay=0.05) as emulator:
        fs = make_fs(emulator)
        paths, _ = photos(tmp_path, 6)
        progress = Progress()
        results = fs.put(paths, "aionvision://s/", callback=progress)
        assert all(r.status == "uploaded" for r in results)
        assert emulator.stats.requests_by_route["session_status"] > 2
        assert len(set(progress.updates)) > 2  # progress came in steps, not all at once
        assert progress.value == 6


def test_without_waiting_unfinished_files_are_pending(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path / "emulator", processing_delay=5) as emulator:
        fs = make_fs(emulator, wait=False)
        paths, _ = photos(tmp_path, 2)
        results = fs.put(paths, "aionvision://s/")
        assert [r.status for r in results] == ["pending", "pending"]
        assert results[0].session_id in emulator.session_ids


def test_unsupported_formats_are_refused_before_any_request(fs, emulator, tmp_path):
    paths, _ = photos(tmp_path, 2)
    odd, _ = local_file(tmp_path, "tool.exe", 10)
    with pytest.raises(UnsupportedFormat, match=r"tool\.exe"):
        fs.put([*paths, odd], "aionvision://f/")
    with pytest.raises(UnsupportedFormat, match="JPEG, PNG"):
        fs.put_file(odd, "aionvision://tool.exe")
    with pytest.raises(UnsupportedFormat):
        fs.open("aionvision://image.bmp", "wb")
    assert emulator.stats.api_requests == 0


def test_oversize_and_empty_files_are_refused_before_any_request(emulator, tmp_path):
    fs = make_fs(emulator, max_file_size=1000)
    big, _ = local_file(tmp_path, "big.jpg", 1001)
    empty, _ = local_file(tmp_path, "empty.txt", 0)
    with pytest.raises(ValueError, match="over the limit of 1000 bytes"):
        fs.put_file(big, "aionvision://big.jpg")
    with pytest.raises(ValueError, match="empty"):
        fs.put([empty], "aionvision://e/")
    assert emulator.stats.api_requests == 0


def test_invalid_options_are_refused_before_any_request(fs, emulator):
    with pytest.raises(ValueError, match="storage_target"):
        fs.pipe_file("aionvision://a.txt", b"x", storage_target="elsewhere")
    with pytest.raises(ValueError, match="at most 40 tags"):
        fs.pipe_file("aionvision://a.txt", b"x", tags=[f"t{i}" for i in range(41)])
    assert emulator.stats.api_requests == 0


def test_progress_option_counts_the_files_of_a_put_on_a_bar(emulator, tmp_path, capsys):
    paths = [local_file(tmp_path, f"frame-{i}.jpg", 2_000)[0] for i in range(3)]
    make_fs(emulator, progress=True).put(paths, "aionvision://bar/")
    screen = capsys.readouterr().err
    assert "aionvision:// 3 files" in screen and "3/3" in screen
