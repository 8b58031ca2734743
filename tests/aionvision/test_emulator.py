"""The emulator answers as the spec (and its documented choices) say."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from atai_fs.emulator.aionvision import AionFault, AionVisionEmulator, parse_aion_fault
from tests.aionvision.conftest import make_fs


def call(emulator: AionVisionEmulator, method: str, path: str, body=None, *, key=None):
    """(status, JSON body, headers) of one API request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{emulator.endpoint_url}/{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {key or emulator.api_key}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


def put(url: str, data: bytes, content_type: str) -> int:
    request = urllib.request.Request(
        url, data=data, method="PUT", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def presign(emulator, size=5, **extra):
    body = {"filename": "a.png", "content_type": "image/png", "size_bytes": size, **extra}
    return call(emulator, "POST", "uploads/request-presigned-url", body)


def test_bad_key_gets_401_in_the_error_envelope(emulator):
    status, body, _ = call(emulator, "GET", "uploads/quota-check?file_count=1", key="aion_nope")
    assert status == 401 and body["error"]["code"] == "INVALID_API_KEY"
    assert uuid.UUID(body["request_id"])


def test_validation_failures_use_fastapis_detail_list(emulator):
    status, body, _ = call(emulator, "GET", "uploads/quota-check")
    assert status == 422 and body["detail"][0]["loc"] == ["query", "file_count"]
    status, body, _ = call(emulator, "POST", "uploads/check-duplicates", {"hashes": []})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "hashes"]


def test_quota_check_reports_the_tier_quota(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path, tier="starter") as emulator:
        status, body, _ = call(emulator, "GET", "uploads/quota-check?file_count=3")
        assert status == 200 and body["can_proceed"] is True
        assert (body["monthly_limit"], body["available"], body["max_batch_size"]) == (
            10_000,
            10_000,
            20,
        )


def test_presigned_put_needs_the_signed_content_type_and_exact_length(emulator):
    _, grant, _ = presign(emulator)
    assert grant["upload_headers"] == {"Content-Type": "image/png"}
    assert put(grant["upload_url"], b"12345", "image/jpeg") == 403
    assert put(grant["upload_url"], b"1234", "image/png") == 400
    assert put(grant["upload_url"], b"12345", "image/png") == 200
    status, body, _ = call(
        emulator, "POST", "uploads/confirm", {"object_key": grant["object_key"], "size_bytes": 5}
    )
    assert status == 200 and body["confirmed"] is True
    again = call(
        emulator, "POST", "uploads/confirm", {"object_key": grant["object_key"], "size_bytes": 5}
    )
    assert again[1]["upload_id"] == body["upload_id"]  # confirm is idempotent


def test_confirm_checks_that_bytes_were_stored_and_the_checksum(emulator):
    _, grant, _ = presign(emulator)
    confirm = {"object_key": grant["object_key"], "size_bytes": 5}
    assert call(emulator, "POST", "uploads/confirm", confirm)[0] == 422  # nothing PUT yet
    assert put(grant["upload_url"], b"12345", "image/png") == 200
    bad = {**confirm, "checksum": "0" * 64}
    assert call(emulator, "POST", "uploads/confirm", bad)[0] == 422
    assert emulator.orphans() and not emulator.files


def test_idempotency_key_returns_the_same_object_and_refuses_another_body(emulator):
    first = presign(emulator, idempotency_key="k1")[1]
    second = presign(emulator, idempotency_key="k1")[1]
    assert first["object_key"] == second["object_key"]
    assert presign(emulator, size=6, idempotency_key="k1")[0] == 409


def test_expired_upload_urls_are_refused(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path, url_lifetime=0.05) as emulator:
        _, grant, _ = presign(emulator)
        time.sleep(0.1)
        assert put(grant["upload_url"], b"12345", "image/png") == 403


def test_cancel_stops_processing_files_and_refunds_them(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path / "emulator", processing_delay=10) as emulator:
        fs = make_fs(emulator, wait=False)
        paths = []
        for i in range(3):
            path = tmp_path / f"p{i}.png"
            path.write_bytes(b"png%d" % i)
            paths.append(str(path))
        (result, *_) = fs.put(paths, "aionvision://c/")
        assert emulator.usage == 3
        status, body, _ = call(emulator, "POST", f"uploads/sessions/{result.session_id}/cancel")
        assert status == 200 and body["status"] == "cancelled"
        assert emulator.usage == 0 and emulator.files == {}
        _, results, _ = call(emulator, "GET", f"uploads/sessions/{result.session_id}/results")
        assert {r["status"] for r in results["results"]} == {"failed"}
        assert call(emulator, "POST", f"uploads/sessions/{result.session_id}/cancel")[0] == 400


def test_unknown_session_is_404_and_a_bad_id_is_422(emulator):
    assert call(emulator, "GET", f"uploads/sessions/{uuid.uuid4()}/status")[0] == 404
    assert call(emulator, "GET", "uploads/sessions/not-a-uuid/status")[0] == 422


def test_injected_statuses_use_the_envelope_and_retry_after(emulator):
    emulator.faults.add(AionFault(route="quota_check", status=429, retry_after=3, nth=1))
    status, body, headers = call(emulator, "GET", "uploads/quota-check?file_count=1")
    assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "RATE_LIMIT_ERROR", "3")


def test_faults_are_validated_and_parsed_with_this_apis_routes():
    fault = parse_aion_fault("route=stream_batch_file,action=reject,times=2")
    assert (fault.route, fault.action, fault.times) == ("stream_batch_file", "reject", 2)
    with pytest.raises(ValueError, match="unknown route"):
        AionFault(route="initiate")
    with pytest.raises(ValueError, match="does not apply"):
        AionFault(route="confirm", action="expire_url")
