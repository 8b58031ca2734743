"""The emulator follows the session protocol: statuses, next_part, limits, both prefixes."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest

from atai_fs.emulator.sandbox import SandboxEmulator, parse_sandbox_fault
from tests.sandbox.conftest import PART_SIZE, SANDBOX, api, create_body, create_session


def put(emulator, upload_id, number, data, *, prefix="sandboxes", sha=True):
    headers = {"x-nullspace-part-sha256": hashlib.sha256(data).hexdigest()} if sha else {}
    return api(
        emulator,
        "PUT",
        f"/v1/{prefix}/{SANDBOX}/uploads/{upload_id}/parts/{number}",
        data=data,
        headers=headers,
    )


def get(emulator, upload_id, prefix="sandboxes"):
    return api(emulator, "GET", f"/v1/{prefix}/{SANDBOX}/uploads/{upload_id}")


def test_session_walks_created_uploading_staged_completed(emulator):
    session = create_session(emulator, length=2 * PART_SIZE + 1)
    upload_id = session["upload_id"]
    assert (session["status"], session["next_part"], session["part_count"]) == ("created", 0, 3)
    assert session["reserved_staging_bytes"] == 2 * PART_SIZE + 1
    status, after, _ = put(emulator, upload_id, 1, b"b" * PART_SIZE)
    assert (status, after["status"], after["next_part"]) == (200, "uploading", 0)
    put(emulator, upload_id, 0, b"a" * PART_SIZE)
    _, after, _ = put(emulator, upload_id, 2, b"c", sha=False)  # header optional
    assert after["status"] == "staged"
    assert "next_part" not in after
    assert after["accepted_bytes"] == 2 * PART_SIZE + 1
    status, done, _ = api(
        emulator, "POST", f"/v1/sandboxes/{SANDBOX}/uploads/{upload_id}/complete", key="k"
    )
    assert status == 200
    assert done["session"]["status"] == "completed"
    assert done["session"]["reserved_staging_bytes"] == 0
    assert (
        emulator.read_file(SANDBOX, "/workspace/raw.bin")
        == b"a" * PART_SIZE + b"b" * PART_SIZE + b"c"
    )


def test_next_part_is_the_lowest_missing_part(emulator):
    upload_id = create_session(emulator, length=4 * PART_SIZE)["upload_id"]
    for number in (0, 2, 3):
        put(emulator, upload_id, number, b"x" * PART_SIZE)
    assert get(emulator, upload_id)[1]["next_part"] == 1


def test_zero_bytes_have_zero_parts_and_complete_at_once(emulator):
    session = create_session(emulator, length=0)
    assert session["part_count"] == 0
    assert "next_part" not in session
    status, _, _ = api(
        emulator,
        "POST",
        f"/v1/sandboxes/{SANDBOX}/uploads/{session['upload_id']}/complete",
        key="k",
    )
    assert status == 200
    assert emulator.read_file(SANDBOX, "/workspace/raw.bin") == b""


def test_both_prefixes_serve_the_same_sessions_with_their_quota_key(emulator):
    upload_id = create_session(emulator)["upload_id"]
    _, documented, _ = get(emulator, upload_id, "sandboxes")
    _, sdk, _ = get(emulator, upload_id, "machines")
    assert "sandbox_staging_quota_bytes" in documented["limits"]
    assert "machine_staging_quota_bytes" not in documented["limits"]
    assert "machine_staging_quota_bytes" in sdk["limits"]
    assert "sandbox_staging_quota_bytes" not in sdk["limits"]


def test_replayed_part_with_other_bytes_wins(emulator):
    upload_id = create_session(emulator, length=3)["upload_id"]
    put(emulator, upload_id, 0, b"old")
    put(emulator, upload_id, 0, b"new")
    api(emulator, "POST", f"/v1/sandboxes/{SANDBOX}/uploads/{upload_id}/complete", key="k")
    assert emulator.read_file(SANDBOX, "/workspace/raw.bin") == b"new"


@pytest.mark.parametrize(
    ("number", "data", "sha", "reason"),
    [
        (0, b"abc", "0" * 64, "invalid_part_checksum"),
        (1, b"abc", None, "part_out_of_range"),
        (0, b"ab", None, "part_size_mismatch"),
    ],
)
def test_bad_parts_are_refused_with_their_reason(emulator, number, data, sha, reason):
    upload_id = create_session(emulator, length=3)["upload_id"]
    headers = {"x-nullspace-part-sha256": sha} if sha else {}
    status, body, _ = api(
        emulator,
        "PUT",
        f"/v1/sandboxes/{SANDBOX}/uploads/{upload_id}/parts/{number}",
        data=data,
        headers=headers,
    )
    assert status == 400
    assert body["code"] == "file_upload_error"
    assert body["error_detail"]["reason"] == reason
    assert body["error_detail"]["upload_id"] == upload_id
    assert get(emulator, upload_id)[1]["accepted_bytes"] == 0


def test_abort_releases_staging_and_refuses_everything_after(emulator):
    upload_id = create_session(emulator, length=3)["upload_id"]
    path = f"/v1/sandboxes/{SANDBOX}/uploads/{upload_id}"
    assert api(emulator, "DELETE", path)[0] == 204
    assert get(emulator, upload_id)[1]["status"] == "aborted"
    assert put(emulator, upload_id, 0, b"abc")[1]["error_detail"]["reason"] == "upload_aborted"
    assert api(emulator, "DELETE", path)[0] == 404


def test_expired_sessions_answer_410_then_disappear(tmp_path):
    with SandboxEmulator(tmp_path, session_lifetime=0.2, expired_retention=0.3) as emu:
        upload_id = create_session(emu, length=3)["upload_id"]
        time.sleep(0.3)
        assert get(emu, upload_id)[1]["status"] == "expired"
        status, body, _ = put(emu, upload_id, 0, b"abc")
        assert (status, body["error_detail"]["reason"]) == (410, "upload_expired")
        time.sleep(0.4)
        assert get(emu, upload_id)[0] == 404


def test_staging_quota_and_upload_limit_at_create(tmp_path):
    with SandboxEmulator(tmp_path, staging_quota_bytes=10, max_upload_bytes=8) as emu:
        uploads = f"/v1/sandboxes/{SANDBOX}/uploads"
        status, body, _ = api(emu, "POST", uploads, create_body(length=9), key="a")
        assert (status, body["error_detail"]["reason"]) == (413, "size_limit_exceeded")
        assert api(emu, "POST", uploads, create_body(length=8), key="b")[0] == 200
        status, body, _ = api(emu, "POST", uploads, create_body(length=3), key="c")
        assert (status, body["error_detail"]["reason"]) == (507, "insufficient_staging_space")


def test_relative_targets_resolve_against_home_or_workspace(emulator):
    assert create_session(emulator, target="notes/a.txt")["target_path"] == "/workspace/notes/a.txt"
    assert create_session(emulator, target="a.txt", user="dev")["target_path"] == "/home/dev/a.txt"


def test_auth_is_required_on_every_route(emulator):
    upload_id = create_session(emulator)["upload_id"]
    status, body, _ = api(
        emulator,
        "GET",
        f"/v1/sandboxes/{SANDBOX}/uploads/{upload_id}",
        headers={"Authorization": "Bearer nope"},
    )
    assert (status, body["code"]) == (401, "unauthorized")


def test_injected_status_faults_use_the_sandbox_error_body(emulator):
    emulator.faults.add(parse_sandbox_fault("route=create,action=status,status=503,retry_after=2"))
    status, body, headers = api(
        emulator, "POST", f"/v1/sandboxes/{SANDBOX}/uploads", create_body(), key=str(uuid.uuid4())
    )
    assert (status, body["code"], headers["Retry-After"]) == (503, "internal_error", "2")


def test_faults_name_sandbox_routes_only(emulator):
    with pytest.raises(ValueError, match="route"):
        emulator.faults.add(route="storage_put", action="status")
    with pytest.raises(ValueError, match="not available"):
        emulator.faults.add(route="part", action="wrong_etag")
