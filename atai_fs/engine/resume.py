"""Local records that make resuming an interrupted upload safe.

A server resumes an in-progress upload by name, type and size (the Files API) or by its
session id (sandboxes).  Resuming blindly would splice parts of one local file onto
parts of another that merely has the same name and size.  So when a resumable upload
starts, the uploader writes a small record of which upload it is and which local file it
comes from (path, size, modification time), plus what the target needs to verify it
(``details``: a sandbox keeps the content's SHA-256); a later run resumes only if the
record names the same upload and the same, unchanged, local file.  Records are removed
when the upload completes or can no longer be resumed.

Records hold no secret, but they name local files and uploads: they are written 0600 in
a 0700 directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LocalFileIdentity",
    "ResumeJournal",
    "ResumeRecord",
    "default_limits_dir",
    "default_resume_dir",
]


def _cache_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "atai_fs"


def default_resume_dir() -> Path:
    """``$XDG_CACHE_HOME/atai_fs/uploads`` (``~/.cache/atai_fs/uploads``)."""
    return _cache_dir() / "uploads"


def default_limits_dir() -> Path:
    """``$XDG_CACHE_HOME/atai_fs/limits``: the rate budgets the processes of this machine
    share, one small file per key and API."""
    return _cache_dir() / "limits"


@dataclass(frozen=True)
class LocalFileIdentity:
    """What tells one local file version from another without reading it."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> LocalFileIdentity:
        stat = os.stat(path)
        return cls(os.path.abspath(os.fspath(path)), stat.st_size, stat.st_mtime_ns)

    def same_content_as(self, other: LocalFileIdentity) -> bool:
        """Same path and size (the content itself must be checked another way)."""
        return self.path == other.path and self.size == other.size


@dataclass(frozen=True)
class ResumeRecord:
    """One upload left in progress: where to, which upload, from which local file."""

    destination: str
    upload_id: str
    source: LocalFileIdentity
    details: Mapping[str, Any] = field(default_factory=dict)

    def started_from(self, identity: LocalFileIdentity) -> bool:
        """Whether the upload was started from this very, unchanged, local file."""
        return self.source == identity


class ResumeJournal:
    """Records keyed by destination (protocol, endpoint and remote name), a file each."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_resume_dir()

    def _file(self, destination: str) -> Path:
        digest = hashlib.sha256(destination.encode()).hexdigest()[:32]
        return self.directory / f"{digest}.json"

    def read(self, destination: str) -> ResumeRecord | None:
        """The record for ``destination``, or ``None`` (none, unreadable, or another's)."""
        try:
            data = json.loads(self._file(destination).read_text())
            source = LocalFileIdentity(**data["source"])
            record = ResumeRecord(
                destination=data["destination"],
                upload_id=data["upload_id"],
                source=source,
                details=dict(data.get("details") or {}),
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if record.destination != destination or not isinstance(record.upload_id, str):
            return None
        return record

    def write(self, record: ResumeRecord) -> None:
        """Save ``record`` atomically (a crash leaves the old record or the new one)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.directory, 0o700)
        path = self._file(record.destination)
        temporary = path.with_suffix(".tmp")
        payload = {
            "destination": record.destination,
            "upload_id": record.upload_id,
            "source": asdict(record.source),
            "details": dict(record.details),
        }
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(payload, out)
        os.replace(temporary, path)

    def forget(self, destination: str) -> None:
        self._file(destination).unlink(missing_ok=True)
