"""atai_fs.presigned: any presigned PUT URL through the same engine and retries."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os

import pytest

from atai_fs import FileTooLarge, InvalidRequest, RequestFailed, presigned

from .conftest import FAST_RETRY, NODE_DEFS, image_resize_flow, make_flow_fs


@pytest.fixture
def put_url(emulator) -> tuple[str, str]:
    """(run id, a fresh PutURL) from a new run of the emulator."""
    run = make_flow_fs(emulator).start_run(image_resize_flow(), NODE_DEFS)
    return run["ID"], run["WaitingURLs"][0]["PutURL"]


@pytest.mark.parametrize("size", [0, 1, 1 << 20, (1 << 20) + 1])
def test_put_bytes_returns_the_md5_etag(emulator, put_url, size):
    run_id, url = put_url
    data = os.urandom(size)
    etag = presigned.put(url, data, retry=FAST_RETRY)
    assert etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert emulator.uploaded(run_id, "image-input") == data


def test_put_a_local_file_with_content_type(emulator, put_url, tmp_path):
    run_id, url = put_url
    local = tmp_path / "frame.jpg"
    local.write_bytes(os.urandom(50_000))
    presigned.put(url, str(local), content_type="image/jpeg", headers={"x-amz-meta-a": "b"})
    assert emulator.uploaded(run_id, "image-input") == local.read_bytes()
    stored = emulator.store.get("my-uploads", f"image-input_{run_id}")
    assert stored.content_type == "image/jpeg"


def test_put_a_binary_file_object(emulator, put_url):
    run_id, url = put_url
    data = os.urandom(70_000)
    presigned.put(url, io.BytesIO(data), spool_threshold=10_000)
    assert emulator.uploaded(run_id, "image-input") == data


def test_put_async_in_a_running_loop(emulator, put_url):
    run_id, url = put_url
    etag = asyncio.run(presigned.put_async(url, b"async bytes"))
    assert etag.startswith('"')
    assert emulator.uploaded(run_id, "image-input") == b"async bytes"


def test_put_survives_503s_and_resets_with_the_same_bytes(emulator, put_url):
    run_id, url = put_url
    data = os.urandom(200_000)
    emulator.faults.add(route="storage_put", action="status", status=503, times=2)
    emulator.faults.add(route="storage_put", action="reset", times=2)
    presigned.put(url, data, retry=FAST_RETRY)
    assert emulator.uploaded(run_id, "image-input") == data
    assert emulator.stats.requests_by_route["storage_put"] >= 3


def test_refused_url_is_not_retried(emulator, put_url):
    _, url = put_url
    altered = url.replace("X-Amz-Signature=", "X-Amz-Signature=00")
    with pytest.raises(presigned.PresignedUrlRefused, match="fresh one") as caught:
        presigned.put(altered, b"data", retry=FAST_RETRY)
    assert isinstance(caught.value, PermissionError)
    assert "X-Amz-Signature=***" in str(caught.value)
    assert emulator.stats.requests_by_route["storage_put"] == 1


def test_authorization_header_is_refused_before_sending(emulator, put_url):
    _, url = put_url
    with pytest.raises(InvalidRequest, match="carries its own authority"):
        presigned.put(url, b"data", headers={"authorization": "Bearer x"})
    assert emulator.stats.requests_by_route.get("storage_put", 0) == 0


def test_over_five_gib_is_refused_before_sending(emulator, put_url, tmp_path):
    _, url = put_url
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(5 * 1024**3 + 1)
    with pytest.raises(FileTooLarge):
        presigned.put(url, str(huge))
    with pytest.raises(FileTooLarge):
        presigned.open_presigned(url, size=5 * 1024**3 + 1)
    assert emulator.stats.requests_by_route.get("storage_put", 0) == 0


def test_persistent_failure_raises_after_retries(emulator, put_url):
    _, url = put_url
    emulator.faults.add(route="storage_put", action="status", status=503)
    with pytest.raises(RequestFailed, match="HTTP 503"):
        presigned.put(url, b"data", retry=FAST_RETRY)
    assert emulator.stats.requests_by_route["storage_put"] == FAST_RETRY.attempts


@pytest.mark.parametrize("size", [None, 100_000])
def test_open_presigned_writes_on_close(emulator, put_url, size):
    run_id, url = put_url
    data = os.urandom(100_000)
    with presigned.open_presigned(url, size=size, retry=FAST_RETRY) as f:
        f.write(data[:50_000])
        f.write(data[50_000:])
        assert url.rsplit("=", 1)[1] not in repr(f)
    assert emulator.uploaded(run_id, "image-input") == data


def test_open_presigned_exception_sends_nothing(emulator, put_url):
    run_id, url = put_url
    with pytest.raises(KeyError), presigned.open_presigned(url) as f:
        f.write(b"partial")
        raise KeyError("boom")
    assert emulator.stats.requests_by_route.get("storage_put", 0) == 0
    assert emulator.uploaded(run_id, "image-input") is None
