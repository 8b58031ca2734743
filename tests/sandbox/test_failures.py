"""Every failure reason of the spec surfaces as a clear exception of the expected kind."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from fsspec.asyn import sync

from atai_fs import RetryPolicy
from atai_fs.emulator.sandbox import SandboxEmulator
from atai_fs.engine.sources import BytesSource
from atai_fs.errors import (
    AlreadyCompleted,
    ChecksumMismatch,
    InsufficientStagingSpace,
    MissingParts,
    PartRejected,
    SizeLimitExceeded,
    UploadAborted,
    UploadExpired,
)
from tests.sandbox.conftest import PART_SIZE, SANDBOX, api, make_fs, url


def upload_with(fs, path, source, **target_options):
    """Upload ``source`` through the target ``target_options`` describe."""
    target = fs._make_target(path, **target_options)

    async def run():
        return await fs._uploader(target).upload(source)

    return sync(fs.loop, run)


class ChangingSource(BytesSource):
    """Bytes that change after every full read: what a file rewritten during its upload
    gives (the digests, computed first, no longer match what is sent)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._data = bytearray(data)

    def read(self, offset: int, length: int) -> bytes:
        chunk = bytes(self._data[offset : offset + length])
        if offset + length == len(self._data):
            self._data = bytearray((b + 1) % 256 for b in self._data)
        return chunk


def test_size_over_the_sandbox_limit_is_file_too_large(tmp_path):
    with SandboxEmulator(tmp_path, part_size=PART_SIZE, max_upload_bytes=1000) as emu:
        with pytest.raises(SizeLimitExceeded, match="max_upload_bytes") as info:
            make_fs(emu).pipe_file(url("/workspace/big.bin"), os.urandom(1001))
        assert isinstance(info.value, ValueError)
        assert info.value.reason == "size_limit_exceeded"
        assert emu.sessions == {}


def test_full_staging_space_is_reported(tmp_path):
    with SandboxEmulator(tmp_path, part_size=PART_SIZE, staging_quota_bytes=PART_SIZE) as emu:
        fs = make_fs(emu)
        holder = fs.open(url("/workspace/a.bin"), "wb", size=PART_SIZE)  # reserves it all
        try:
            with pytest.raises(InsufficientStagingSpace, match="staging") as info:
                fs.pipe_file(url("/workspace/b.bin"), b"x", retry={"attempts": 1})
            assert isinstance(info.value, OSError)
        finally:
            holder.discard()
        fs.pipe_file(url("/workspace/b.bin"), b"x")  # released by the abort
        assert emu.read_file(SANDBOX, "/workspace/b.bin") == b"x"


def test_existing_target_is_file_exists_error(fs, emulator):
    fs.pipe_file(url("/workspace/a.txt"), b"first")
    with pytest.raises(FileExistsError, match="conflict='replace'"):
        fs.pipe_file(url("/workspace/a.txt"), b"second")
    assert emulator.read_file(SANDBOX, "/workspace/a.txt") == b"first"


def test_wrong_part_checksum_is_refused_and_retried_then_fails(emulator):
    fs = make_fs(emulator, retry=RetryPolicy(attempts=2, base_delay=0))

    with pytest.raises(ChecksumMismatch, match="part checksum mismatch"):
        upload_with(fs, url("/workspace/c.bin"), ChangingSource(os.urandom(100)))
    assert emulator.stats.requests_by_route["part"] == 2
    assert not emulator.exists(SANDBOX, "/workspace/c.bin")


def test_wrong_whole_checksum_fails_the_session(fs, emulator):
    with pytest.raises(ChecksumMismatch, match="whole_checksum_mismatch"):
        source = BytesSource(os.urandom(2 * PART_SIZE))
        upload_with(fs, url("/workspace/w.bin"), source, whole_sha256="f" * 64)
    (session,) = emulator.sessions.values()
    assert session.status == "failed"
    assert not emulator.exists(SANDBOX, "/workspace/w.bin")


def test_expired_session_refuses_parts(tmp_path):
    with SandboxEmulator(tmp_path, part_size=PART_SIZE, session_lifetime=0.3) as emu:
        fs = make_fs(emu)
        f = fs.open(url("/workspace/late.bin"), "wb", size=PART_SIZE)
        time.sleep(0.5)
        with pytest.raises(UploadExpired, match="start a new upload"):
            f.write(os.urandom(PART_SIZE))
            f.close()
        (session,) = emu.sessions.values()
        assert session.status == "expired"


def test_aborted_session_refuses_parts(fs, emulator):
    f = fs.open(url("/workspace/gone.bin"), "wb", size=PART_SIZE)
    upload_id = f._uploader.plan.upload_id
    status, _, _ = api(emulator, "DELETE", f"/v1/sandboxes/{SANDBOX}/uploads/{upload_id}")
    assert status == 204
    with pytest.raises(UploadAborted, match="aborted"):
        f.write(os.urandom(PART_SIZE))
        f.close()


def test_complete_before_every_part_is_missing_parts(fs, emulator):
    target = fs._make_target(url("/workspace/m.bin"))

    async def run():
        plan = await target.initiate(3 * PART_SIZE)
        return await target.complete(plan, {})

    with pytest.raises(MissingParts, match="resume the upload") as info:
        sync(fs.loop, run)
    assert info.value.status == 409


def test_part_out_of_range_and_wrong_size_are_rejected(fs, emulator):
    target = fs._make_target(url("/workspace/r.bin"))
    from atai_fs.engine.body import PartBody
    from atai_fs.engine.plan import PartSpec

    data = BytesSource(os.urandom(PART_SIZE))

    async def put(number, length):
        await target.initiate(PART_SIZE)
        return await target.put_part(PartSpec(number, 0, length), PartBody(data, 0, length))

    with pytest.raises(PartRejected, match="part_out_of_range"):
        sync(fs.loop, put, 5, PART_SIZE)
    with pytest.raises(PartRejected, match="part_size_mismatch") as info:
        sync(fs.loop, put, 0, 10)
    assert isinstance(info.value, ValueError)


def test_completing_twice_with_new_keys_is_already_completed(fs, emulator):
    fs.pipe_file(url("/workspace/once.bin"), b"once")
    (session,) = emulator.sessions.values()
    target = fs._make_target(url("/workspace/once.bin"))

    async def run():
        from atai_fs.engine.plan import UploadPlan

        plan = UploadPlan(session.upload_id, 4, 1, [])
        return await target.complete(plan, {})

    with pytest.raises(AlreadyCompleted) as info:
        sync(fs.loop, run)
    assert isinstance(info.value, FileExistsError)


def test_wrong_api_key_is_permission_error(emulator):
    fs = make_fs(emulator, api_key="wrong-key")
    with pytest.raises(PermissionError, match="SANDBOX_API_KEY"):
        fs.pipe_file(url("/workspace/x"), b"x")


def test_unknown_sandbox_is_file_not_found(tmp_path):
    with (
        SandboxEmulator(tmp_path, sandboxes=["sb_known"]) as emu,
        pytest.raises(FileNotFoundError, match="machine_not_found"),
    ):
        make_fs(emu).pipe_file("sandbox://sb_other/workspace/x", b"x")


@pytest.mark.parametrize("path", ["/etc/passwd", "/workspace/.nullspace/state"])
def test_destinations_outside_the_writable_roots_are_refused(fs, emulator, path):
    with pytest.raises(ValueError, match="HTTP 400"):
        fs.pipe_file(url(path), b"x")
    assert emulator.sessions == {}


def test_errors_never_contain_the_api_key(emulator):
    fs = make_fs(emulator, api_key=f"secret-{uuid.uuid4()}")
    with pytest.raises(PermissionError) as info:
        fs.pipe_file(url("/workspace/x"), b"x")
    assert fs.api_key not in str(info.value)
