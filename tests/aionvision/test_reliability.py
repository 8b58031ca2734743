"""Faults survived: retries, Retry-After, tier pacing, landed-but-unanswered uploads."""

from __future__ import annotations

import time

import pytest

from atai_fs import AuthError, RateLimit
from atai_fs.emulator.aionvision import AionFault, AionVisionEmulator
from atai_fs.fs.aionvision import AionVisionFileSystem
from tests.aionvision.conftest import LIMIT, local_file, make_fs, stored


def test_stream_upload_survives_a_connection_reset_mid_body(fs, emulator, tmp_path):
    emulator.faults.add(AionFault(route="stream_upload", action="reset", nth=1))
    path, data = local_file(tmp_path, "a.jpg", 40_000)
    result = fs.put_file(path, "aionvision://a.jpg")
    assert stored(emulator, result.image_id) == data
    assert emulator.stats.requests_by_route["stream_upload"] == 2


def test_a_retried_stream_upload_that_had_landed_is_not_stored_twice(fs, emulator, tmp_path):
    emulator.faults.add(AionFault(route="stream_upload", action="reset_after", nth=1))
    path, data = local_file(tmp_path, "a.jpg", 5000)
    result = fs.put_file(path, "aionvision://a.jpg")
    (only,) = emulator.files.values()  # the first attempt stored it; the retry skipped it
    assert (result.status, result.image_id) == ("uploaded", only.image_id)
    assert only.read_bytes() == data


def test_a_retried_batch_that_had_landed_is_not_stored_twice(fs, emulator, tmp_path):
    emulator.faults.add(AionFault(route="stream_batch", action="reset_after", nth=1))
    paths = [local_file(tmp_path, f"p{i}.png", 300 + i)[0] for i in range(4)]
    results = fs.put(paths, "aionvision://b/")
    assert len(emulator.files) == 4
    assert {r.image_id for r in results} == set(emulator.files)
    assert all(r.status == "uploaded" for r in results)


@pytest.mark.parametrize(
    "fault",
    [
        AionFault(route="stream_upload", status=503, times=2),
        AionFault(route="stream_upload", status=429, retry_after=0, times=2),
        AionFault(route="stream_upload", action="latency", delay=0.2, nth=1),
    ],
    ids=["503", "429", "latency"],
)
def test_transient_stream_failures_are_retried(fs, emulator, tmp_path, fault):
    emulator.faults.add(fault)
    result = fs.pipe_file("aionvision://a.txt", b"hello")
    assert stored(emulator, result.image_id) == b"hello"


def test_retry_after_of_a_429_is_honoured(fs, emulator):
    emulator.faults.add(AionFault(route="stream_upload", status=429, retry_after=1, nth=1))
    started = time.monotonic()
    fs.pipe_file("aionvision://a.txt", b"hello")
    assert time.monotonic() - started >= 1.0
    assert len(emulator.files) == 1


@pytest.mark.parametrize(
    "fault",
    [
        AionFault(route="storage_put", status=503, times=2),
        AionFault(route="storage_put", action="reset", nth=1),
        AionFault(route="storage_put", action="wrong_etag", nth=1),
        AionFault(route="request_presigned_url", status=500, nth=1),
        AionFault(route="confirm", status=502, nth=1),
        AionFault(route="confirm", action="reset_after", nth=1),
        AionFault(route="confirm", action="malformed_json", nth=1),
    ],
    ids=lambda f: f"{f.route}-{f.action}-{f.status}",
)
def test_presigned_upload_survives_faults(fs, emulator, tmp_path, fault):
    emulator.faults.add(fault)
    path, data = local_file(tmp_path, "big.pdf", 2 * LIMIT)
    result = fs.put_file(path, "aionvision://big.pdf")
    assert result.method == "presigned"
    assert stored(emulator, result.image_id) == data
    assert len(emulator.files) == 1 and emulator.orphans() == []


def test_an_expired_upload_url_is_renewed_for_the_same_object(fs, emulator, tmp_path):
    emulator.faults.add(AionFault(route="storage_put", action="expire_url", nth=1))
    path, data = local_file(tmp_path, "big.pdf", 2 * LIMIT)
    result = fs.put_file(path, "aionvision://big.pdf")
    assert stored(emulator, result.image_id) == data
    assert emulator.stats.requests_by_route["request_presigned_url"] == 2  # same idempotency key
    assert emulator.orphans() == []


def test_session_polling_survives_faults(fs, emulator, tmp_path):
    emulator.faults.add(AionFault(route="session_status", status=503, nth=1))
    emulator.faults.add(AionFault(route="session_results", action="reset", nth=1))
    paths = [local_file(tmp_path, f"p{i}.png", 100 + i)[0] for i in range(3)]
    assert all(r.status == "uploaded" for r in fs.put(paths, "aionvision://s/"))


def test_tier_sets_batch_size_and_pace(emulator):
    fs = make_fs(emulator, tier="starter", rate_limit=None)
    assert fs.stream_batch_size == 20
    assert fs.rate_limiter.limit.per_minute == 30


def test_without_pacing_429s_are_retried_after_retry_after(tmp_path):
    with AionVisionEmulator(
        data_dir=tmp_path / "emulator",
        rate_limit=True,
        rate_limit_per_minute=600,
        rate_limit_burst=3,
    ) as emulator:
        fs = make_fs(emulator)
        for i in range(6):
            fs.pipe_file(f"aionvision://n{i}.txt", b"x%d" % i)
        assert emulator.stats.rate_limited > 0
        assert len(emulator.files) == 6


def test_client_pacing_stays_under_the_server_limit(tmp_path):
    with AionVisionEmulator(
        data_dir=tmp_path / "emulator",
        rate_limit=True,
        rate_limit_per_minute=600,
        rate_limit_burst=8,
    ) as emulator:
        fs = make_fs(emulator, rate_limit=RateLimit(per_second=5, burst=2))
        for i in range(8):
            fs.pipe_file(f"aionvision://n{i}.txt", b"x%d" % i)
        assert emulator.stats.rate_limited == 0
        assert len(emulator.files) == 8


def test_a_wrong_key_is_an_auth_error_without_the_key_in_it(emulator):
    secret = "aion_wrong-secret-key-123456"
    fs = AionVisionFileSystem(
        api_key=secret,
        endpoint_url=emulator.endpoint_url,
        rate_limit="off",
        skip_instance_cache=True,
    )
    with pytest.raises(AuthError) as caught:
        fs.pipe_file("aionvision://a.txt", b"x")
    assert "INVALID_API_KEY" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(fs)


def test_a_missing_key_is_refused_before_any_request(emulator, monkeypatch):
    monkeypatch.delenv("AIONVISION_API_KEY", raising=False)
    fs = AionVisionFileSystem(endpoint_url=emulator.endpoint_url, skip_instance_cache=True)
    with pytest.raises(ValueError, match="AIONVISION_API_KEY"):
        fs.pipe_file("aionvision://a.txt", b"x")
    assert emulator.stats.api_requests == 0
