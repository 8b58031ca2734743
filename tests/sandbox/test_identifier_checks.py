"""Identifiers are checked whole: a trailing newline is not part of a well-formed one.

Regression: the checks used ``re.match`` with ``$``, which also matches before a final
``\\n``, so ``sb_1\\n`` was a sandbox and ``dev\\n`` a user.
"""

from __future__ import annotations

import hashlib
import uuid

from tests.sandbox.conftest import SANDBOX, api, create_body


def create(emulator, sandbox: str, **fields):
    return api(
        emulator,
        "POST",
        f"/v1/sandboxes/{sandbox}/uploads",
        create_body(**fields),
        key=str(uuid.uuid4()),
    )


def test_a_sandbox_id_with_a_trailing_newline_is_not_found(emulator):
    status, body, _ = create(emulator, f"{SANDBOX}%0A")
    assert status == 404
    assert body["code"] == "machine_not_found"
    assert not (emulator.data_dir / "sandboxes" / f"{SANDBOX}\n").exists()


def test_a_user_with_a_trailing_newline_is_refused(emulator):
    status, body, _ = create(emulator, SANDBOX, user="dev\n", target="notes.txt")
    assert status == 400
    assert (body["code"], body["error"]) == (
        "invalid_request",
        "user must be a user name, got 'dev\\n'",
    )


def test_a_digest_with_a_trailing_newline_is_refused(emulator):
    digest = hashlib.sha256(b"").hexdigest() + "\n"
    status, body, _ = create(emulator, SANDBOX, length=0, whole_checksum_sha256=digest)
    assert status == 400
    assert body["code"] == "invalid_request"
    assert "whole_checksum_sha256" in body["error"]
