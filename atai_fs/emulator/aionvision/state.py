"""What one emulated workspace holds: stored files, the hash index, monthly usage,
presigned reservations and batch sessions.  Lives on the server loop (not thread-safe);
test threads read it through the read-only views of the runner."""

from __future__ import annotations

import math
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SESSION_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def now_iso(when: float | None = None) -> str:
    """UTC timestamp without offset, milliseconds (the spec's ``expires_at`` example)."""
    moment = datetime.fromtimestamp(time.time() if when is None else when, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass(frozen=True)
class FileView:
    """A stored file as a test sees it (``emu.files``)."""

    image_id: str
    filename: str
    object_key: str
    sha256: str
    size: int
    content_type: str
    upload_method: str
    """``"STREAMING"`` or ``"PRESIGNED"``."""
    path: Path
    title: str | None = None
    tags: tuple[str, ...] = ()

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class StoredFile(FileView):
    """One file the workspace holds: what a test sees, and when its processing ends."""

    created_at: float = field(default_factory=time.time)
    ready_at: float = 0.0
    """When its "AI processing" finishes."""
    processing_error: str | None = None
    """Why its processing fails (at ``ready_at``), if it does."""

    @property
    def media_type(self) -> str:
        return "image" if self.content_type.startswith("image/") else "document"


@dataclass
class Reservation:
    """A presigned upload requested and not (yet) confirmed."""

    object_key: str
    filename: str
    content_type: str
    size: int
    storage_target: str
    fingerprint: tuple[Any, ...]
    confirmed_id: str | None = None
    image_id: str | None = None
    """The id a ``batch-prepare`` created for the file in advance."""
    batch_id: str | None = None


@dataclass
class ImageStatus:
    """What ``GET /uploads/status/{image_id}`` reports of one image: uploading until
    its bytes are confirmed, processing until ``ready_at``, then completed or failed."""

    image_id: str
    created_at: float
    batch_id: str | None = None
    confirmed_at: float | None = None
    ready_at: float | None = None
    error: str | None = None
    """Why it failed: its upload, its processing (at ``ready_at``), or a cancel."""

    def unified(self, now: float) -> str:
        if self.confirmed_at is None:
            return "failed" if self.error is not None else "uploading"
        if self.ready_at is not None and now < self.ready_at:
            return "processing"
        return "failed" if self.error is not None else "completed"

    def fail(self, error: str, now: float) -> None:
        """End it as failed now (a failed upload, a cancel)."""
        self.error = error
        if self.confirmed_at is not None:
            self.ready_at = now


@dataclass
class SessionFile:
    index: int
    filename: str
    image_id: str
    object_key: str
    outcome: str  # "completed", "skipped" or "failed" once ready
    ready_at: float
    skipped_existing_image_id: str | None = None
    error: str | None = None
    processing_ms: float = 0.0

    def status(self, now: float) -> str:
        return self.outcome if now >= self.ready_at else "processing"


@dataclass
class Session:
    session_id: str
    files: list[SessionFile]
    created_at: float = field(default_factory=time.time)
    cancelled_at: float | None = None
    upload_method: str = "streaming"
    """``streaming`` (a stream batch) or ``presigned`` (a presigned batch)."""

    def counts(self, now: float) -> dict[str, int]:
        counts = {"completed": 0, "failed": 0, "skipped": 0, "processing": 0}
        for item in self.files:
            counts[item.status(now)] += 1
        return counts

    def status(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        counts = self.counts(now)
        if counts["processing"]:
            return "processing" if counts["processing"] < len(self.files) else "pending"
        if self.files and counts["failed"] == len(self.files):
            return "failed"
        return "completed"

    def finished_at(self) -> float:
        known = [item.ready_at for item in self.files if math.isfinite(item.ready_at)]
        return max(known, default=self.created_at)  # files not yet confirmed: not known


class Workspace:
    """The one tenant of an emulator."""

    def __init__(self, data_dir: Path) -> None:
        self.files_dir = data_dir / "files"
        self.incoming_dir = data_dir / "incoming"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, StoredFile] = {}
        self.by_hash: dict[str, str] = {}
        self.usage = 0
        self.reservations: dict[str, Reservation] = {}
        self.idempotency: dict[str, str] = {}
        self.sessions: dict[str, Session] = {}
        """Stream batches and presigned batches (a batch's session id is its batch id)."""
        self.batches: dict[str, Batch] = {}
        self.images: dict[str, ImageStatus] = {}
        self.streaming_in_flight = 0

    def incoming_path(self) -> Path:
        return self.incoming_dir / f"{uuid.uuid4().hex}.tmp"

    def store(
        self,
        source: Path,
        *,
        filename: str,
        object_key: str,
        sha256: str,
        size: int,
        content_type: str,
        upload_method: str,
        ready_at: float,
        now: float,
        image_id: str | None = None,
        title: str | None = None,
        tags: tuple[str, ...] = (),
        processing_error: str | None = None,
        batch_id: str | None = None,
    ) -> StoredFile:
        """Move ``source`` into the workspace as a new file and count it against the quota."""
        image_id = image_id or str(uuid.uuid4())
        path = self.files_dir / image_id
        os.replace(source, path)
        stored = StoredFile(
            image_id=image_id,
            filename=filename,
            object_key=object_key,
            sha256=sha256,
            size=size,
            content_type=content_type,
            path=path,
            upload_method=upload_method,
            title=title,
            tags=tags,
            created_at=now,
            ready_at=ready_at,
            processing_error=processing_error,
        )
        status = self.images.get(image_id) or ImageStatus(image_id, now, batch_id)
        status.confirmed_at, status.ready_at, status.error = now, ready_at, processing_error
        self.images[image_id] = status
        self.files[image_id] = stored
        self.by_hash.setdefault(sha256, image_id)
        self.usage += 1
        return stored

    def remove(self, image_id: str, now: float) -> None:
        """Forget a file (a cancelled session's unprocessed one) and refund its credit;
        its status stays, failed as cancelled."""
        status = self.images.get(image_id)
        if status is not None:
            status.fail("cancelled", now)
        stored = self.files.pop(image_id, None)
        if stored is None:
            return
        if self.by_hash.get(stored.sha256) == image_id:
            del self.by_hash[stored.sha256]
            for other in self.files.values():
                if other.sha256 == stored.sha256:
                    self.by_hash[stored.sha256] = other.image_id
                    break
        stored.path.unlink(missing_ok=True)
        self.usage -= 1


@dataclass
class BatchEntry:
    """One file of a presigned batch: its reservation and its line in the batch's session."""

    reservation: Reservation
    item: SessionFile
    confirmed: bool = False
    failed: bool = False


@dataclass
class Batch:
    """A presigned batch (``batch-prepare``): its files, and when it last changed."""

    batch_id: str
    intent: str
    entries: list[BatchEntry]
    created_at: float
    last_activity_at: float
