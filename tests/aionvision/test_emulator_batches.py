"""The emulator's presigned batches, processing status and session results, as the
spec (sections 3.8-3.10) and its documented choices say."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from atai_fs.emulator.aionvision import AionFault, AionVisionEmulator
from tests.aionvision.conftest import VirtualClock, make_fs
from tests.aionvision.test_emulator import call, put


def prepare(emulator, count=2, **extra):
    files = [
        {"filename": f"f{i}.png", "content_type": "image/png", "size_bytes": 4 + i}
        for i in range(count)
    ]
    return call(emulator, "POST", "uploads/batch-prepare", {"files": files, **extra})


def test_batch_prepare_answers_urls_and_the_upload_plan(tmp_path):
    with AionVisionEmulator(
        data_dir=tmp_path, batch_max_concurrent=2, batch_strategy="sequential", upload_timeout=60
    ) as emulator:
        status, body, _ = prepare(emulator, 3, intent="describe")
    assert status == 200
    assert body["upload_plan"]["strategy"] == "sequential"
    assert body["upload_plan"]["max_concurrent"] == 2
    assert body["upload_plan"]["timeout_per_upload"] == 60
    assert isinstance(body["upload_plan"]["retry_policy"], dict)
    assert body["total_size_bytes"] == 4 + 5 + 6
    assert [u["file_index"] for u in body["presigned_urls"]] == [0, 1, 2]
    for item in body["presigned_urls"]:
        assert item["upload_method"] == "PUT"
        assert item["upload_headers"] == {"Content-Type": "image/png"}
        assert uuid.UUID(item["image_id"])


@pytest.mark.parametrize(
    ("count", "extra", "loc"),
    [
        (2, {}, ["body", "intent"]),
        (2, {"intent": "summarize"}, ["body", "intent"]),
        (6, {"intent": "describe"}, ["body", "files"]),
        (0, {"intent": "describe"}, ["body", "files"]),
        (1, {"intent": "verify", "verification_level": "lax"}, ["body", "verification_level"]),
    ],
)
def test_batch_prepare_validates_intent_and_file_count(emulator, count, extra, loc):
    status, body, _ = prepare(emulator, count, **extra)
    assert status == 422
    assert loc in [d["loc"] for d in body["detail"]]


def test_batch_confirm_stores_successes_and_records_failures(emulator):
    _, batch, _ = prepare(emulator, 2, intent="describe")
    first, second = batch["presigned_urls"]
    assert put(first["upload_url"], b"data", "image/png") == 200
    confirmations = [
        {
            "object_key": first["object_key"],
            "success": True,
            "file_size": 4,
            "checksum": hashlib.sha256(b"data").hexdigest(),
        },
        {
            "object_key": second["object_key"],
            "success": False,
            "file_size": 5,
            "error_message": "connection reset",
        },
    ]
    status, body, _ = call(
        emulator,
        "POST",
        "uploads/batch-confirm",
        {"batch_id": batch["batch_id"], "confirmations": confirmations},
    )
    assert status == 200
    assert (body["successful_uploads"], body["failed_uploads"]) == (1, 1)
    assert body["processing_status"] == "partial"
    assert body["failed_files"] == ["f1.png"]
    (image,) = body["stored_images"]
    assert image["image_id"] == first["image_id"]
    assert emulator.files[first["image_id"]].read_bytes() == b"data"
    _, report, _ = call(emulator, "GET", f"uploads/batch/{batch['batch_id']}/status")
    assert report["counts"]["total"] == 2
    assert (report["counts"]["completed"], report["counts"]["failed"]) == (1, 1)
    assert report["overall_status"] == "partially_completed"
    assert report["error_summary"] == {"count": 1, "messages": ["f1.png: connection reset"]}


def test_a_success_confirmed_without_bytes_is_a_failed_file(emulator):
    _, batch, _ = prepare(emulator, 1, intent="describe")
    (url,) = batch["presigned_urls"]
    body = {
        "batch_id": batch["batch_id"],
        "confirmations": [{"object_key": url["object_key"], "success": True, "file_size": 4}],
    }
    status, answer, _ = call(emulator, "POST", "uploads/batch-confirm", body)
    assert status == 200 and answer["processing_status"] == "failed"
    assert answer["failed_files"] == ["f0.png"] and emulator.files == {}


def test_batch_confirm_needs_confirmations_and_a_known_batch(emulator):
    _, batch, _ = prepare(emulator, 1, intent="describe")
    body = {"batch_id": batch["batch_id"], "confirmations": []}
    assert call(emulator, "POST", "uploads/batch-confirm", body)[0] == 422
    body = {"batch_id": str(uuid.uuid4()), "confirmations": [{"object_key": "k"}]}
    assert call(emulator, "POST", "uploads/batch-confirm", body)[0] == 404


def test_batch_status_counts_files_still_uploading(emulator):
    _, batch, _ = prepare(emulator, 3, intent="describe")
    _, report, _ = call(emulator, "GET", f"uploads/batch/{batch['batch_id']}/status")
    assert report["overall_status"] == "uploading"
    assert report["counts"]["uploading"] == 3 and report["completion_percentage"] == 0


def test_cancelling_a_batch_refuses_its_urls_and_its_confirm(emulator):
    _, batch, _ = prepare(emulator, 2, intent="describe")
    status, body, _ = call(emulator, "POST", f"uploads/sessions/{batch['batch_id']}/cancel")
    assert status == 200 and body["status"] == "cancelled"
    first = batch["presigned_urls"][0]
    assert put(first["upload_url"], b"data", "image/png") >= 400  # the key is released
    confirm = {
        "batch_id": batch["batch_id"],
        "confirmations": [{"object_key": first["object_key"], "success": True, "file_size": 4}],
    }
    assert call(emulator, "POST", "uploads/batch-confirm", confirm)[0] == 400
    _, image, _ = call(emulator, "GET", f"uploads/status/{first['image_id']}")
    assert image["unified_status"] == "failed" and image["error_message"] == "cancelled"


def test_image_status_goes_from_uploading_to_processing_to_completed(tmp_path):
    clock = VirtualClock()
    with AionVisionEmulator(data_dir=tmp_path, processing_delay=60, now=clock) as emulator:
        _, batch, _ = prepare(emulator, 1, intent="describe")
        (url,) = batch["presigned_urls"]
        path = f"uploads/status/{url['image_id']}"
        _, image, _ = call(emulator, "GET", path)
        assert image["unified_status"] == "uploading" and image["is_terminal"] is False
        assert put(url["upload_url"], b"abcd", "image/png") == 200
        confirmation = {"object_key": url["object_key"], "success": True, "file_size": 4}
        body = {"batch_id": batch["batch_id"], "confirmations": [confirmation]}
        assert call(emulator, "POST", "uploads/batch-confirm", body)[0] == 200
        _, image, _ = call(emulator, "GET", path)
        assert image["unified_status"] == "processing" and image["batch_id"] == batch["batch_id"]
        clock.advance(61)
        _, image, _ = call(emulator, "GET", path)
    assert image["unified_status"] == "completed" and image["is_terminal"] is True
    assert image["component_statuses"]["description_status"] == "completed"
    assert image["tenant_id"] and image["completed_at"]


def test_a_file_processing_longer_than_stuck_after_is_stuck(tmp_path):
    clock = VirtualClock()
    with AionVisionEmulator(
        data_dir=tmp_path, processing_delay=3600, stuck_after=600, now=clock
    ) as emulator:
        (tmp_path / "a.png").write_bytes(b"png")
        result = make_fs(emulator).put_file(str(tmp_path / "a.png"), "aionvision://a.png")
        path = f"uploads/status/{result.image_id}"
        assert call(emulator, "GET", path)[1]["is_stuck"] is False
        clock.advance(601)
        assert call(emulator, "GET", path)[1]["is_stuck"] is True


def test_a_processing_fault_fails_the_file_once_processed(tmp_path):
    with AionVisionEmulator(
        data_dir=tmp_path, faults=[AionFault(route="processing", action="reject")]
    ) as emulator:
        (tmp_path / "a.png").write_bytes(b"png")
        result = make_fs(emulator).put_file(str(tmp_path / "a.png"), "aionvision://a.png")
        _, image, _ = call(emulator, "GET", f"uploads/status/{result.image_id}")
    assert image["unified_status"] == "failed" and image["error_message"]


def test_image_status_of_an_unknown_image_is_404_and_a_bad_id_422(emulator):
    assert call(emulator, "GET", f"uploads/status/{uuid.uuid4()}")[0] == 404
    assert call(emulator, "GET", "uploads/status/nope")[0] == 422


def test_session_results_are_paged(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path / "emulator") as emulator:
        paths = []
        for i in range(5):
            path = tmp_path / f"p{i}.png"
            path.write_bytes(b"png%d" % i)
            paths.append(str(path))
        (result, *_) = make_fs(emulator).put(paths, "aionvision://r/")
        base = f"uploads/sessions/{result.session_id}/results"
        _, first, _ = call(emulator, "GET", f"{base}?offset=0&limit=2")
        _, last, _ = call(emulator, "GET", f"{base}?offset=4&limit=2")
        assert call(emulator, "GET", f"{base}?limit=501")[0] == 422
    assert len(first["results"]) == 2 and first["has_more"] is True
    assert first["total_count"] == 5 and first["summary"]["total_files"] == 5
    assert len(last["results"]) == 1 and last["has_more"] is False and last["offset"] == 4
