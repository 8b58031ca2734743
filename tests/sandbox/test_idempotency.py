"""Idempotency keys: a retried create or complete replays its answer, never redoes the work."""

from __future__ import annotations

import hashlib
import os
import uuid

from fsspec.asyn import sync

from atai_fs import ProtocolError
from tests.sandbox.conftest import PART_SIZE, SANDBOX, api, create_body, url

UPLOADS = f"/v1/sandboxes/{SANDBOX}/uploads"


def test_create_replayed_with_the_same_key_returns_the_same_session(emulator):
    key = str(uuid.uuid4())
    first = api(emulator, "POST", UPLOADS, create_body(), key=key)
    again = api(emulator, "POST", UPLOADS, create_body(), key=key)
    assert first[0] == again[0] == 200
    assert first[1] == again[1]
    assert len(emulator.sessions) == 1


def test_create_with_a_new_key_is_a_new_session(emulator):
    api(emulator, "POST", UPLOADS, create_body(), key=str(uuid.uuid4()))
    api(emulator, "POST", UPLOADS, create_body(), key=str(uuid.uuid4()))
    assert len(emulator.sessions) == 2


def test_a_key_reused_with_another_body_is_refused(emulator):
    key = str(uuid.uuid4())
    api(emulator, "POST", UPLOADS, create_body(length=10), key=key)
    status, body, _ = api(emulator, "POST", UPLOADS, create_body(length=11), key=key)
    assert status == 409
    assert body["code"] == "invalid_request"
    assert len(emulator.sessions) == 1


def test_create_and_complete_require_a_key(emulator):
    status, body, headers = api(emulator, "POST", UPLOADS, create_body())
    assert status == 400
    assert "Idempotency-Key" in body["error"]
    assert body["request_id"] == headers["x-request-id"]


def test_complete_replayed_with_the_same_key_returns_the_same_answer(emulator):
    data = b"0123456789"
    _, created, _ = api(emulator, "POST", UPLOADS, create_body(length=10), key="k1")
    upload = f"{UPLOADS}/{created['session']['upload_id']}"
    sha = hashlib.sha256(data).hexdigest()
    status, _, _ = api(
        emulator, "PUT", f"{upload}/parts/0", data=data, headers={"x-nullspace-part-sha256": sha}
    )
    assert status == 200
    first = api(emulator, "POST", f"{upload}/complete", {"whole_checksum_sha256": sha}, key="k2")
    again = api(emulator, "POST", f"{upload}/complete", {"whole_checksum_sha256": sha}, key="k2")
    assert first[0] == again[0] == 200
    assert first[1] == again[1]
    assert first[1]["published_file_count"] == 1
    other = api(emulator, "POST", f"{upload}/complete", {"whole_checksum_sha256": sha}, key="k3")
    assert other[0] == 409
    assert other[1]["error_detail"]["reason"] == "upload_already_completed"
    assert emulator.stats.checksums_verified == 1


def test_client_retries_a_lost_create_answer_with_the_same_key(fs, emulator):
    emulator.faults.add(route="create", action="truncated_json", nth=1)
    data = os.urandom(2 * PART_SIZE)
    fs.pipe_file(url("/workspace/a.bin"), data)
    assert emulator.read_file(SANDBOX, "/workspace/a.bin") == data
    assert emulator.stats.requests_by_route["create"] == 2
    assert len(emulator.sessions) == 1  # the retry was replayed, not a second session


def test_client_recovers_a_lost_complete_answer(fs, emulator):
    emulator.faults.add(route="complete", action="malformed_json", nth=1)
    data = os.urandom(2 * PART_SIZE)
    fs.pipe_file(url("/workspace/b.bin"), data)
    assert emulator.read_file(SANDBOX, "/workspace/b.bin") == data
    (session,) = emulator.sessions.values()
    assert session.status == "completed"


def test_a_retried_complete_reuses_its_key_and_is_replayed(fs, emulator):
    target = fs._make_target(url("/workspace/c.bin"), whole_sha256=hashlib.sha256(b"").hexdigest())
    emulator.faults.add(route="complete", action="truncated_json", nth=1)

    async def run():
        plan = await target.initiate(0)
        try:
            await target.complete(plan, {})
        except ProtocolError as exc:
            assert exc.retryable  # the answer was lost: safe to retry with the same key
        return await target.complete(plan, {})

    answer = sync(fs.loop, run)
    assert answer["session"]["status"] == "completed"
    assert emulator.stats.requests_by_route["complete"] == 2
    assert emulator.stats.checksums_verified == 1  # the work was done once


def test_each_logical_create_gets_a_fresh_key(fs, emulator):
    fs.pipe_file(url("/workspace/one"), b"1")
    fs.pipe_file(url("/workspace/two"), b"2")
    assert len(emulator.sessions) == 2
