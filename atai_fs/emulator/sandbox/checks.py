"""Checking a request before a handler acts on it: path values, headers, the JSON body,
a create's fields, and whether a session still takes parts and completes."""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

from aiohttp import web

from .._shared.bodies import MalformedBody, parse_json
from .config import SandboxConfig
from .context import context_of
from .errors import UploadError
from .files import PathRejected, normalize_target
from .state import ABORTED, COMPLETED, COMPLETING, EXPIRED, FAILED, CreateRequest, Session

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SANDBOX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_USER = re.compile(r"[a-z_][a-z0-9_-]*")
_MAX_IDEMPOTENCY_KEY = 255

KINDS = ("file", "directory_tar")
SOURCE_KINDS = ("restartable_file", "spooled_stream", "directory_archive")
CONFLICTS = ("merge", "replace", "error")


def sandbox_id_of(request: web.Request) -> str:
    """The sandbox in the path, if it exists (any well-formed id, unless configured)."""
    sandbox_id = request.match_info["sandbox_id"]
    known = context_of(request).config.sandboxes
    if not _SANDBOX_ID.fullmatch(sandbox_id) or (known is not None and sandbox_id not in known):
        raise UploadError(404, f"sandbox {sandbox_id} not found", code="machine_not_found")
    return sandbox_id


def session_of(request: web.Request, sandbox_id: str) -> Session:
    """The session in the path: 404 if unknown, of another sandbox, or forgotten."""
    upload_id = request.match_info["upload_id"]
    session = context_of(request).sessions.lookup(sandbox_id, upload_id, time.time())
    if session is None:
        raise UploadError(404, f"upload session {upload_id} not found", code="not_found")
    return session


def idempotency_key_of(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > _MAX_IDEMPOTENCY_KEY:
        raise UploadError(400, "the Idempotency-Key header is required (1-255 characters)")
    return key


async def json_object(request: web.Request, *, empty_ok: bool) -> dict[str, Any]:
    """The JSON object body; with ``empty_ok``, no body (or ``null``) is ``{}``."""
    raw = await request.read()
    if not raw.strip():
        if empty_ok:
            return {}
        raise UploadError(400, "a JSON object body is required")
    try:
        data = parse_json(raw)
    except MalformedBody as exc:
        raise UploadError(400, str(exc)) from None
    if data is None and empty_ok:
        return {}
    if not isinstance(data, dict):
        raise UploadError(400, "the body must be a JSON object")
    return data


def fingerprint_of(data: Any) -> str:
    """What an idempotency key's request must match to be replayed (open point 7)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def refuse_unless_writable(session: Session, *, part: int | None = None) -> None:
    """Parts and complete are refused once the session is terminal or completing."""
    status = session.status
    if status == ABORTED:
        reason, message = "upload_aborted", "the upload session was aborted"
    elif status == EXPIRED:
        reason, message = "upload_expired", "the upload session expired"
    elif status == FAILED:
        reason = "upload_aborted"
        message = f"the upload session failed at complete ({session.failure}); start a new upload"
    elif status in (COMPLETED, COMPLETING):
        reason, message = "upload_already_completed", f"the upload session is {status}"
    else:
        return
    raise UploadError.upload(reason, message, session=session, part_number=part)


def check_create(body: dict[str, Any], config: SandboxConfig) -> CreateRequest:
    """The create request in ``body``, or the 400 of its first bad field."""

    def one_of(name: str, allowed: tuple[str, ...]) -> str:
        value = body.get(name)
        if not isinstance(value, str) or value not in allowed:
            raise UploadError(400, f"{name} must be one of {list(allowed)}, got {value!r:.60}")
        return value

    kind = one_of("kind", KINDS)
    source_kind = one_of("source_kind", SOURCE_KINDS)
    conflict = one_of("conflict", CONFLICTS)
    one_of("checksum_algorithm", ("sha256",))
    length = body.get("content_length")
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise UploadError(400, f"content_length must be a non-negative integer, got {length!r:.40}")
    user = body.get("user")
    if user is not None and (not isinstance(user, str) or not _USER.fullmatch(user)):
        raise UploadError(400, f"user must be a user name, got {user!r:.40}")
    archive = body.get("archive_format")
    if archive not in (None, "tar") or (archive and kind != "directory_tar"):
        raise UploadError(400, "archive_format must be 'tar' for directory_tar, absent otherwise")
    digest = body.get("whole_checksum_sha256")
    if digest is not None and (not isinstance(digest, str) or not SHA256_HEX.fullmatch(digest)):
        raise UploadError(400, "whole_checksum_sha256 must be 64 lowercase hex digits")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise UploadError(400, "metadata must be a JSON object")
    target = body.get("target_path")
    if not isinstance(target, str):
        raise UploadError(400, "target_path must be a string")
    try:
        target_path = normalize_target(target, user, config.roots)
    except PathRejected as exc:
        raise UploadError(400, exc.message, path=exc.path) from None
    return CreateRequest(
        kind=kind,
        source_kind=source_kind,
        conflict=conflict,
        content_length=length,
        target_path=target_path,
        user=user,
        archive_format=archive,
        whole_checksum_sha256=digest,
        metadata=metadata or {},
    )
