"""What the emulated service remembers of uploads: each one's part plan and state.

Uploads live in memory (their parts are on disk, in :mod:`.._shared.storage`); the files
they publish are in :mod:`.file_index`. All mutation happens on the server loop; the
registry's lock only makes snapshots taken from other threads consistent, and each
upload's ``lock`` serialises the calls that change it (checkpoint, complete, abort,
expiry), so an abort can never delete the parts under a running complete.
"""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from dataclasses import dataclass, field

from .config import MAX_PARTS

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
ABORTED = "aborted"
EXPIRED = "expired"
"""Left in progress longer than ``upload_lifetime`` without a call: its parts are gone."""


def new_upload_id() -> str:
    return "upl_" + uuid.uuid4().hex[:26]


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
    """A complete holds ``lock`` and is running (a resume then starts a new upload)."""
    last_activity: float = 0.0
    """Clock time of the last call on this upload (initiate, resume, parts/urls,
    checkpoint): it expires ``upload_lifetime`` seconds after it."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)
    """Held by each call that changes the upload, for the whole call."""

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
        """``"in_progress"``, ``"completed"``, ``"aborted"`` or ``"expired"``."""
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
    def completing(self) -> bool:
        """A complete of this upload is running."""
        return self._upload.completing

    @property
    def checkpointed_parts(self) -> tuple[int, ...]:
        return tuple(sorted(self._upload.checkpoints))

    def __repr__(self) -> str:
        u = self._upload
        return f"UploadView({u.upload_id!r}, state={u.state!r}, filename={u.filename!r})"


class UploadRegistry:
    """Every upload of this emulator's lifetime, by id (finished ones stay, for 404 vs 409),
    and, apart, those still in progress (what expiry and resume look through)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uploads: dict[str, Upload] = {}
        self._open: dict[str, Upload] = {}

    def add(self, upload: Upload) -> None:
        with self._lock:
            self._uploads[upload.upload_id] = upload
            if upload.state == IN_PROGRESS:
                self._open[upload.upload_id] = upload

    def get(self, upload_id: str) -> Upload | None:
        return self._uploads.get(upload_id)

    def latest_in_progress(self, filename: str) -> Upload | None:
        """The most recent in-progress upload of ``filename``: the one resume picks."""
        for upload in reversed(list(self._open.values())):
            if upload.filename == filename:
                return upload
        return None

    def in_progress(self) -> list[Upload]:
        with self._lock:
            return list(self._open.values())

    def expired(self, now: float, lifetime: float) -> list[Upload]:
        """Mark ``EXPIRED`` every upload in progress without a call for ``lifetime``
        seconds and not held by a call; the caller releases their storage."""
        with self._lock:
            gone = [
                u
                for u in self._open.values()
                if now - u.last_activity >= lifetime and not u.lock.locked()
            ]
        for upload in gone:
            self.set_state(upload, EXPIRED)
            upload.checkpoints.clear()
        return gone

    def set_state(self, upload: Upload, state: str) -> None:
        with self._lock:
            upload.state = state
            if state != IN_PROGRESS:
                self._open.pop(upload.upload_id, None)

    def views(self) -> dict[str, UploadView]:
        with self._lock:
            return {uid: UploadView(u) for uid, u in self._uploads.items()}
