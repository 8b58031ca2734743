"""The org's files: one JSON index written atomically, so a new emulator on the same
``data_dir`` sees every completed file. Their bytes are the storage backend's
(:mod:`.backends`), named by ``file_uid``."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FILE_STATUS_INGESTED = "FILE_STATUS_INGESTED"
FILE_STATUS_CORRUPT = "FILE_STATUS_CORRUPT"

_INDEX_VERSION = 1


def new_file_uid() -> str:
    return "fil_" + uuid.uuid4().hex[:26]


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
    """The org's files: ``index.json`` under ``data_dir``, and ``tmp/`` for files being built."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.tmp_dir = data_dir / "tmp"
        self._index_path = data_dir / "index.json"
        self._files: dict[str, FileRecord] = {}
        self._seq = 0
        self.last_updated = time.time()
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._load()

    def new_tmp_path(self) -> Path:
        """Where to build a file's bytes before storage takes them."""
        return self.tmp_dir / uuid.uuid4().hex

    def get(self, file_id: str) -> FileRecord | None:
        return self._files.get(file_id)

    def register(
        self,
        *,
        file_id: str,
        file_uid: str,
        file_type: str,
        num_bytes: int,
        file_status: str = FILE_STATUS_INGESTED,
        file_attributes: dict[str, Any] | None = None,
    ) -> FileRecord | None:
        """Record the file ``file_id`` (its bytes already stored as ``file_uid``), replacing
        any same-named file: the replaced record, whose bytes the caller drops."""
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
        return old

    def delete(self, file_id: str) -> FileRecord | None:
        """Forget ``file_id``: its record, whose bytes the caller drops."""
        record = self._files.pop(file_id, None)
        if record is not None:
            self._save()
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
