"""Upload sessions and their staging space.

Everything here runs on the emulator's event loop; test threads only read through
:meth:`SessionRegistry.views`, which copies.
"""

from __future__ import annotations

import math
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._shared.scratch import claim_scratch_dir
from .config import SandboxConfig

CREATED, UPLOADING, STAGED, COMPLETING, COMPLETED = (
    "created",
    "uploading",
    "staged",
    "completing",
    "completed",
)
ABORTED, EXPIRED, FAILED = "aborted", "expired", "failed"
TERMINAL = frozenset({COMPLETED, ABORTED, EXPIRED, FAILED})
ACTIVE = frozenset({CREATED, UPLOADING, STAGED, COMPLETING})

QUOTA_KEYS = {"sandboxes": "sandbox_staging_quota_bytes", "machines": "machine_staging_quota_bytes"}
"""Open point 1: each route prefix names the staging quota its own way (never both)."""


def rfc3339(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="milliseconds")
    ).replace("+00:00", "Z")


@dataclass(frozen=True)
class CreateRequest:
    """What a create asks for, checked (spec 4.1)."""

    kind: str
    source_kind: str
    conflict: str
    content_length: int
    target_path: str
    """Absolute and normalized."""
    user: str | None = None
    archive_format: str | None = None
    whole_checksum_sha256: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Session:
    """One upload session (server side)."""

    upload_id: str
    sandbox_id: str
    kind: str
    source_kind: str
    target_path: str
    content_length: int
    conflict: str
    user: str | None
    archive_format: str | None
    whole_checksum_sha256: str | None
    metadata: dict[str, Any]
    part_size: int
    part_count: int
    max_concurrency: int
    created_at: float
    expires_at: float
    staging_dir: Path
    updated_at: float = 0.0
    status: str = CREATED
    parts: dict[int, int] = field(default_factory=dict)
    """Accepted part number -> its length."""
    part_digests: dict[int, str] = field(default_factory=dict)
    reserved_staging_bytes: int = 0
    ended_at: float | None = None
    failure: str | None = None
    parts_in_flight: int = 0
    max_parts_in_flight: int = 0
    verified_parts: int = 0
    """Part PUTs stored whose ``x-nullspace-part-sha256`` header was checked."""

    @property
    def accepted_bytes(self) -> int:
        return sum(self.parts.values())

    @property
    def next_part(self) -> int | None:
        """The lowest part not accepted yet (open point 5); None when all are present."""
        for number in range(self.part_count):
            if number not in self.parts:
                return number
        return None

    def part_length(self, number: int) -> int:
        return min(self.part_size, self.content_length - number * self.part_size)

    def part_file(self, number: int) -> Path:
        return self.staging_dir / f"{number:08d}.part"

    def to_json(self, route: str, config: SandboxConfig) -> dict[str, Any]:
        body: dict[str, Any] = {
            "upload_id": self.upload_id,
            "kind": self.kind,
            "source_kind": self.source_kind,
            "target_path": self.target_path,
            "content_length": self.content_length,
            "accepted_bytes": self.accepted_bytes,
            "reserved_staging_bytes": self.reserved_staging_bytes,
            "part_size": self.part_size,
            "part_count": self.part_count,
            "max_concurrency": self.max_concurrency,
            "status": self.status,
            "conflict": self.conflict,
            "checksum_algorithm": "sha256",
            "limits": {
                "max_upload_bytes": config.max_upload_bytes,
                "max_part_bytes": config.max_part_bytes,
                "max_concurrency": config.max_concurrency,
                QUOTA_KEYS[route]: config.staging_quota_bytes,
            },
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at or self.created_at),
            "expires_at": rfc3339(self.expires_at),
        }
        optional = {
            "user": self.user,
            "next_part": self.next_part if self.status not in TERMINAL else None,
            "archive_format": self.archive_format,
            "whole_checksum_sha256": self.whole_checksum_sha256,
        }
        body.update((key, value) for key, value in optional.items() if value is not None)
        return body


@dataclass(frozen=True)
class SessionView:
    """A read-only copy of a session for tests (``emu.sessions[upload_id]``)."""

    upload_id: str
    sandbox_id: str
    kind: str
    status: str
    target_path: str
    content_length: int
    part_size: int
    part_count: int
    max_concurrency: int
    accepted_parts: frozenset[int]
    accepted_bytes: int
    reserved_staging_bytes: int
    max_parts_in_flight: int
    verified_parts: int
    metadata: dict[str, Any]
    user: str | None
    failure: str | None


class SessionRegistry:
    """Sessions of every sandbox and the staging space they reserve."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.sessions: dict[str, Session] = {}
        # Sessions live in memory only: their staged parts never outlive the process.
        self.staging_root = claim_scratch_dir(config.data_dir / "staging")

    # -- sessions --------------------------------------------------------------------
    def new_session(self, sandbox_id: str, request: CreateRequest, now: float) -> Session:
        config = self.config
        length = request.content_length
        part_size = config.effective_part_size
        upload_id = f"up_{secrets.token_hex(12)}"
        staging = self.staging_root / upload_id
        staging.mkdir(parents=True)
        session = Session(
            upload_id=upload_id,
            sandbox_id=sandbox_id,
            kind=request.kind,
            source_kind=request.source_kind,
            target_path=request.target_path,
            content_length=length,
            conflict=request.conflict,
            user=request.user,
            archive_format=request.archive_format
            or ("tar" if request.kind == "directory_tar" else None),
            whole_checksum_sha256=request.whole_checksum_sha256,
            metadata=dict(request.metadata),
            part_size=part_size,
            part_count=math.ceil(length / part_size),
            max_concurrency=config.max_concurrency,
            created_at=now,
            updated_at=now,
            expires_at=now + config.session_lifetime,
            staging_dir=staging,
            reserved_staging_bytes=length,
        )
        self.sessions[upload_id] = session
        return session

    def reserved_bytes(self, sandbox_id: str, now: float) -> int:
        return sum(
            s.reserved_staging_bytes
            for s in self.sessions.values()
            if s.sandbox_id == sandbox_id and self.refresh(s, now) in ACTIVE
        )

    def refresh(self, session: Session, now: float) -> str:
        """The session's status after applying expiry (open point 13)."""
        if session.status in (CREATED, UPLOADING, STAGED) and now >= session.expires_at:
            self.end(session, EXPIRED, now)
        return session.status

    def end(self, session: Session, status: str, now: float, failure: str | None = None) -> None:
        """Move to a terminal status and release the staging space."""
        session.status = status
        session.updated_at = session.ended_at = now
        session.failure = failure
        session.reserved_staging_bytes = 0
        shutil.rmtree(session.staging_dir, ignore_errors=True)

    def lookup(self, sandbox_id: str, upload_id: str, now: float) -> Session | None:
        """The session, or None if unknown, of another sandbox, or forgotten."""
        session = self.sessions.get(upload_id)
        if session is None or session.sandbox_id != sandbox_id:
            return None
        self.refresh(session, now)
        if (
            session.status == EXPIRED
            and session.ended_at is not None
            and now - session.ended_at > self.config.expired_retention
        ):
            del self.sessions[upload_id]
            return None
        return session

    def views(self) -> dict[str, SessionView]:
        now = time.time()
        views = {}
        for s in list(self.sessions.values()):
            self.refresh(s, now)
            views[s.upload_id] = SessionView(
                upload_id=s.upload_id,
                sandbox_id=s.sandbox_id,
                kind=s.kind,
                status=s.status,
                target_path=s.target_path,
                content_length=s.content_length,
                part_size=s.part_size,
                part_count=s.part_count,
                max_concurrency=s.max_concurrency,
                accepted_parts=frozenset(s.parts),
                accepted_bytes=s.accepted_bytes,
                reserved_staging_bytes=s.reserved_staging_bytes,
                max_parts_in_flight=s.max_parts_in_flight,
                verified_parts=s.verified_parts,
                metadata=dict(s.metadata),
                user=s.user,
                failure=s.failure,
            )
        return views
