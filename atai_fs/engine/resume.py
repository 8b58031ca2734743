"""Local records that make resuming an interrupted upload safe.

A server resumes an in-progress upload by name, type and size only.  Resuming blindly
would splice parts of one local file onto parts of another that merely has the same
name and size.  So when an upload that may be resumed starts, the uploader writes a
small record of which local file it comes from (path, size, modification time); a later
run resumes the server's upload only if the record names the same upload and the same,
unchanged, local file.  Records are removed when the upload completes or is aborted.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["LocalFileIdentity", "ResumeJournal", "default_resume_dir"]


def default_resume_dir() -> Path:
    """``$XDG_CACHE_HOME/atai_fs/uploads`` (``~/.cache/atai_fs/uploads``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "atai_fs" / "uploads"


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


class ResumeJournal:
    """Records keyed by destination (e.g. endpoint + remote name), one JSON file each."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_resume_dir()

    def _file(self, destination: str) -> Path:
        digest = hashlib.sha256(destination.encode()).hexdigest()[:32]
        return self.directory / f"{digest}.json"

    def matches(self, destination: str, upload_id: str, source: LocalFileIdentity) -> bool:
        """Whether ``upload_id`` was started for this destination from this very file."""
        try:
            record = json.loads(self._file(destination).read_text())
        except (OSError, ValueError):
            return False
        return (
            record.get("destination") == destination
            and record.get("upload_id") == upload_id
            and record.get("source") == asdict(source)
        )

    def upload_id(self, destination: str) -> str | None:
        """The upload recorded for ``destination``, if any (to abort a stale one)."""
        try:
            record = json.loads(self._file(destination).read_text())
        except (OSError, ValueError):
            return None
        value = record.get("upload_id")
        return value if isinstance(value, str) else None

    def record(self, destination: str, upload_id: str, source: LocalFileIdentity) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._file(destination)
        temporary = path.with_suffix(".tmp")
        payload = {"destination": destination, "upload_id": upload_id, "source": asdict(source)}
        temporary.write_text(json.dumps(payload))
        os.replace(temporary, path)

    def forget(self, destination: str) -> None:
        self._file(destination).unlink(missing_ok=True)
