"""The vendor's own client (``nullspace-sdk`` 1.0.3) drives the emulator: its routes
(``/v1/machines``), strict session models, part hashes, directory archives, resume and
abort all work against it offline."""

from __future__ import annotations

import hashlib
import os

import pytest

nullspace = pytest.importorskip(
    "nullspace", reason="the vendor SDK (nullspace-sdk) is not installed"
)
try:
    from nullspace._filesystem_core import (
        filesystem_routes,
        sync_public_resume_upload,
        sync_public_upload_directory,
        sync_public_upload_file,
    )
    from nullspace.client import NullspaceClient
except ImportError as exc:  # another SDK version: its upload engine moved
    pytest.skip(f"nullspace-sdk layout not supported offline: {exc}", allow_module_level=True)

from tests.sandbox.conftest import PART_SIZE, SANDBOX  # noqa: E402


@pytest.fixture
def client(emulator):
    sdk = NullspaceClient(api_key=emulator.api_key, base_url=emulator.endpoint_url)
    yield sdk
    sdk._client.close()


def test_sdk_uploads_a_file_through_a_session(client, emulator, tmp_path):
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(4 * PART_SIZE + 9))
    result = sync_public_upload_file(
        client, filesystem_routes(SANDBOX), str(local), "/workspace/f.bin", resumable=True
    )
    assert result.bytes_uploaded == local.stat().st_size
    assert emulator.read_file(SANDBOX, "/workspace/f.bin") == local.read_bytes()
    (session,) = emulator.sessions.values()
    assert session.verified_parts == 5  # the SDK hashed every part
    assert emulator.stats.checksums_verified == 1  # and sent the whole digest


def test_sdk_uploads_a_directory_archive(client, emulator, tmp_path):
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.txt").write_text("x")
    (root / "y.bin").write_bytes(os.urandom(3 * PART_SIZE))
    result = sync_public_upload_directory(
        client, filesystem_routes(SANDBOX), str(root), "/workspace/tree"
    )
    assert result.file_count == 2
    assert emulator.read_file(SANDBOX, "/workspace/tree/a/x.txt") == b"x"
    assert emulator.read_file(SANDBOX, "/workspace/tree/y.bin") == (root / "y.bin").read_bytes()


def test_sdk_resumes_a_session_from_next_part(client, emulator, tmp_path):
    data = os.urandom(3 * PART_SIZE)
    local = tmp_path / "r.bin"
    local.write_bytes(data)
    session = client.create_upload_session(
        SANDBOX,
        kind="file",
        source_kind="restartable_file",
        target_path="/workspace/r.bin",
        content_length=len(data),
    )
    first = data[:PART_SIZE]
    client.upload_session_part(
        SANDBOX, session.upload_id, 0, first, part_sha256=hashlib.sha256(first).hexdigest()
    )
    assert client.get_upload_session(SANDBOX, session.upload_id).next_part == 1
    emulator.stats.reset()
    with open(local, "rb") as source:
        sync_public_resume_upload(client, filesystem_routes(SANDBOX), session.upload_id, source)
    assert emulator.read_file(SANDBOX, "/workspace/r.bin") == data
    assert emulator.stats.requests_by_route["part"] == 2


def test_sdk_aborts_and_sees_the_aborted_status(client, emulator):
    session = client.create_upload_session(
        SANDBOX,
        kind="file",
        source_kind="spooled_stream",
        target_path="/tmp/z",
        content_length=5,
    )
    assert session.limits.machine_staging_quota_bytes > 0
    client.abort_upload_session(SANDBOX, session.upload_id)
    assert client.get_upload_session(SANDBOX, session.upload_id).status.value == "aborted"


def test_sdk_reads_the_error_detail_of_a_conflict(client, emulator, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    (root / "x.txt").write_text("x")
    routes = filesystem_routes(SANDBOX)
    sync_public_upload_directory(client, routes, str(root), "/workspace/t", conflict="error")
    with pytest.raises(nullspace.errors.MachineError) as info:
        sync_public_upload_directory(client, routes, str(root), "/workspace/t", conflict="error")
    error = info.value
    detail = getattr(error, "error_detail", None) or getattr(error.__cause__, "error_detail", None)
    assert detail is not None, repr(error)
    assert detail.reason.value == "target_conflict"
    assert detail.upload_id is not None


def test_sdk_direct_request_writes_a_small_file(client, emulator):
    from nullspace._filesystem_core import _direct_file_request

    spec = _direct_file_request(
        filesystem_routes(SANDBOX), method="PUT", path="/workspace/small.txt", content=b"tiny"
    )
    client.request_empty(spec.method, spec.path, **spec.kwargs())
    assert emulator.read_file(SANDBOX, "/workspace/small.txt") == b"tiny"
    assert emulator.stats.requests_by_route == {"direct": 1}
