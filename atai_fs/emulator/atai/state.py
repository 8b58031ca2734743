"""What the emulated service remembers: in-progress uploads and the org's file index.

Uploads live in memory (their parts are on disk, in :mod:`.._shared.storage`). Files are blobs
named by ``file_uid`` plus one JSON index written atomically, so a new emulator on the
same ``data_dir`` sees every completed file. All mutation happens on the server loop;
the lock only makes snapshots taken from other threads consistent.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .config import MAX_PARTS

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
ABORTED = "aborted"

FILE_STATUS_INGESTED = "FILE_STATUS_INGESTED"
FILE_STATUS_CORRUPT = "FILE_STATUS_CORRUPT"

_INDEX_VERSION = 1


def new_upload_id() -> str:
    return "upl_" + uuid.uuid4().hex[:26]


def new_file_uid() -> str:
    return "fil_" + uuid.uuid4().hex[:26]


def choose_part_size(num_bytes: int, configured: int) -> int:
    """The configured size, grown (to whole MiB) only when it would need over MAX_PARTS."""
    if num_bytes <= configured * MAX_PARTS:
        return configured
    mib = 1024 * 1024
    return math.ceil(math.ceil(num_bytes / MAX_PARTS) / mib) * mib


@dataclass
class Upload:
    """One direct-to-cloud upload and its server-chosen part plan."""

    upload_id: str
    file_uid: str
    filename: str
    file_type: str
    num_bytes: int
    part_size: int
    part_number_base: int
    state: str = IN_PROGRESS
    checkpoints: dict[int, str] = field(default_factory=dict)
    completing: bool = False

    @property
    def num_parts(self) -> int:
        """Contiguous parts of ``part_size``, the last shorter; an empty file has one empty part."""
        return max(1, math.ceil(self.num_bytes / self.part_size))

    @property
    def part_numbers(self) -> range:
        return range(self.part_number_base, self.part_number_base + self.num_parts)

    def part_range(self, part_number: int) -> tuple[int, int]:
        """``(offset, length)`` of a part number that is in range."""
        offset = (part_number - self.part_number_base) * self.part_size
        return offset, min(self.part_size, self.num_bytes - offset)

    def storage_key(self, part_number: int | None = None) -> str:
        """Storage key of one part, or (no argument) the prefix of all of them."""
        return self.upload_id if part_number is None else f"{self.upload_id}/{part_number}"


class UploadView:
    """Read-only face of an :class:`Upload`, for tests and users inspecting the emulator."""

    __slots__ = ("_upload",)

    def __init__(self, upload: Upload) -> None:
        self._upload = upload

    @property
    def upload_id(self) -> str:
        return self._upload.upload_id

    @property
    def file_uid(self) -> str:
        return self._upload.file_uid

    @property
    def state(self) -> str:
        """``"in_progress"``, ``"completed"`` or ``"aborted"``."""
        return self._upload.state

    @property
    def filename(self) -> str:
        return self._upload.filename

    @property
    def file_type(self) -> str:
        return self._upload.file_type

    @property
    def num_bytes(self) -> int:
        return self._upload.num_bytes

    @property
    def num_parts(self) -> int:
        return self._upload.num_parts

    @property
    def part_size(self) -> int:
        return self._upload.part_size

    @property
    def part_number_base(self) -> int:
        return self._upload.part_number_base

    @property
    def checkpointed_parts(self) -> tuple[int, ...]:
        return tuple(sorted(self._upload.checkpoints))

    def __repr__(self) -> str:
        u = self._upload
        return f"UploadView({u.upload_id!r}, state={u.state!r}, filename={u.filename!r})"


@dataclass
class FileRecord:
    """One stored file. ``seq`` grows with every registration: it orders "newest first"."""

    file_id: str
    file_uid: str
    file_type: str
    num_bytes: int
    file_status: str
    seq: int
    file_attributes: dict[str, Any] = field(default_factory=dict)
    file_tags: dict[str, str] = field(default_factory=dict)

    def to_metadata(self, file_index: int) -> dict[str, Any]:
        """The metadata object of spec section 3."""
        return {
            "file_id": self.file_id,
            "file_uid": self.file_uid,
            "is_valid": self.file_status != FILE_STATUS_CORRUPT,
            "file_type": self.file_type,
            "num_bytes": self.num_bytes,
            "file_status": self.file_status,
            "ingested": self.file_status == FILE_STATUS_INGESTED,
            "file_index": file_index,
            "file_tags": dict(self.file_tags),
            "file_attributes": dict(self.file_attributes),
        }


class FileIndex:
    """The org's files: ``index.json`` plus ``blobs/<file_uid>`` under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blob_dir = data_dir / "blobs"
        self.tmp_dir = data_dir / "tmp"
        self._index_path = data_dir / "index.json"
        self._files: dict[str, FileRecord] = {}
        self._seq = 0
        self.last_updated = time.time()
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._load()

    def blob_path(self, file_uid: str) -> Path:
        return self.blob_dir / file_uid

    def new_tmp_path(self) -> Path:
        """Where to build a blob before :meth:`register` moves it in place."""
        return self.tmp_dir / uuid.uuid4().hex

    def get(self, file_id: str) -> FileRecord | None:
        return self._files.get(file_id)

    def blob_of_uid(self, file_uid: str) -> Path | None:
        """The blob of the current file whose ``file_uid`` this is (None once replaced/deleted)."""
        for record in self._files.values():
            if record.file_uid == file_uid:
                return self.blob_path(file_uid)
        return None

    def register(
        self,
        *,
        file_id: str,
        file_uid: str,
        file_type: str,
        blob: Path,
        num_bytes: int,
        file_status: str = FILE_STATUS_INGESTED,
        file_attributes: dict[str, Any] | None = None,
    ) -> FileRecord:
        """Make a finished blob the file ``file_id``, replacing any same-named file."""
        os.replace(blob, self.blob_path(file_uid))
        self._seq += 1
        record = FileRecord(
            file_id=file_id,
            file_uid=file_uid,
            file_type=file_type,
            num_bytes=num_bytes,
            file_status=file_status,
            seq=self._seq,
            file_attributes=dict(file_attributes or {}),
        )
        old = self._files.pop(file_id, None)
        self._files[file_id] = record
        self._save()
        if old is not None and old.file_uid != file_uid:
            self.blob_path(old.file_uid).unlink(missing_ok=True)
        return record

    def delete(self, file_id: str) -> FileRecord | None:
        record = self._files.pop(file_id, None)
        if record is not None:
            self._save()
            self.blob_path(record.file_uid).unlink(missing_ok=True)
        return record

    def oldest_first(self) -> list[FileRecord]:
        return sorted(self._files.values(), key=lambda r: r.seq)

    def positions(self) -> dict[str, int]:
        """``file_index`` of each file: its 0-based position in oldest-first order."""
        return {r.file_id: i for i, r in enumerate(self.oldest_first())}

    def __iter__(self) -> Iterator[FileRecord]:
        return iter(list(self._files.values()))

    def __len__(self) -> int:
        return len(self._files)

    # -- persistence -----------------------------------------------------------------
    def _load(self) -> None:
        if not self._index_path.exists():
            return
        data = json.loads(self._index_path.read_text(encoding="utf-8"))
        if data.get("version") != _INDEX_VERSION:
            raise ValueError(f"{self._index_path}: unsupported index version {data.get('version')}")
        self._seq = int(data["seq"])
        self.last_updated = float(data["last_updated"])
        for raw in data["files"]:
            record = FileRecord(**raw)
            self._files[record.file_id] = record

    def _save(self) -> None:
        """Write the index to a temp file and rename it: readers never see half an index."""
        self.last_updated = time.time()
        data = {
            "version": _INDEX_VERSION,
            "seq": self._seq,
            "last_updated": self.last_updated,
            "files": [asdict(r) for r in self.oldest_first()],
        }
        tmp = self._index_path.with_name(f".index.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, self._index_path)


class UploadRegistry:
    """Every upload of this emulator's lifetime, by id (finished ones stay, for 404 vs 409)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, Upload] = {}

    def add(self, upload: Upload) -> None:
        with self._lock:
            self._uploads[upload.upload_id] = upload

    def get(self, upload_id: str) -> Upload | None:
        return self._uploads.get(upload_id)

    def latest_in_progress(self, filename: str) -> Upload | None:
        """The most recent in-progress upload of ``filename``: the one resume picks."""
        for upload in reversed(list(self._uploads.values())):
            if upload.filename == filename and upload.state == IN_PROGRESS:
                return upload
        return None

    def set_state(self, upload: Upload, state: str) -> None:
        with self._lock:
            upload.state = state

    def views(self) -> dict[str, UploadView]:
        with self._lock:
            return {uid: UploadView(u) for uid, u in self._uploads.items()}
