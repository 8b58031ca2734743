"""Part plans: which bytes go to which URL, exactly as the server decided.

Servers choose part sizes from a few MiB to hundreds of MB and number parts from 0 or
from 1; the engine never computes a plan of its own, it only checks that the one it was
given is coherent before sending a byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProtocolError
from ..redact import redact_url

__all__ = ["REFRESH_BATCH", "PartSpec", "PartUrls", "UploadPlan"]


@dataclass(frozen=True)
class PartSpec:
    """One part: its number, its byte range in the file, and where to PUT it."""

    number: int
    offset: int
    length: int
    url: str = field(default="", repr=False)
    expires_at: float | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length

    def __repr__(self) -> str:
        return (
            f"PartSpec(number={self.number}, offset={self.offset}, length={self.length}, "
            f"url={redact_url(self.url)!r})"
        )


@dataclass
class UploadPlan:
    """What the server answered to "I want to upload N bytes".

    ``parts`` lists the parts still to send (all of them, or only the missing ones when
    the server resumed an earlier upload); ``num_parts`` and ``total_bytes`` always
    describe the whole file.  ``details`` keeps target-specific fields.
    ``max_concurrency``, when the server sets one, caps this upload's parts in flight
    (on top of the filesystem-wide limit).
    """

    upload_id: str
    total_bytes: int
    num_parts: int
    parts: list[PartSpec]
    is_resume: bool = False
    integrity_algorithm: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    max_concurrency: int | None = None

    def check_against(self, size: int) -> None:
        """Raise :class:`ProtocolError` unless the plan fits a file of ``size`` bytes."""
        if self.total_bytes != size:
            raise ProtocolError(
                f"the server planned an upload of {self.total_bytes} bytes for a file of "
                f"{size} bytes (upload {self.upload_id}); refusing to send mismatched parts"
            )
        check_parts(self.parts, size, complete=not self.is_resume, upload_id=self.upload_id)
        if not self.is_resume and len(self.parts) != self.num_parts:
            raise ProtocolError(
                f"the server announced {self.num_parts} parts but listed {len(self.parts)} "
                f"(upload {self.upload_id})"
            )

    @property
    def bytes_already_uploaded(self) -> int:
        """Bytes the server already holds (non-zero only when resuming)."""
        return self.total_bytes - sum(part.length for part in self.parts)


def check_parts(
    parts: Iterable[PartSpec], size: int, *, complete: bool, upload_id: str = ""
) -> None:
    """Check that ``parts`` lie inside the file, do not overlap and (if ``complete``)
    cover every byte of it."""
    ordered = sorted(parts, key=lambda part: part.offset)
    position = 0
    numbers: set[int] = set()
    for part in ordered:
        if part.number in numbers:
            raise ProtocolError(f"part {part.number} is listed twice (upload {upload_id})")
        numbers.add(part.number)
        if part.offset < 0 or part.length < 0 or part.end > size:
            raise ProtocolError(
                f"part {part.number} covers bytes {part.offset}..{part.end}, outside the "
                f"file's {size} bytes (upload {upload_id})"
            )
        if part.offset < position or (complete and part.offset != position):
            raise ProtocolError(
                f"part {part.number} starts at byte {part.offset}, expected {position}: the "
                f"part plan has gaps or overlaps (upload {upload_id})"
            )
        position = part.end
    if complete and position != size:
        raise ProtocolError(f"the part plan covers {position} of {size} bytes (upload {upload_id})")


#: Most part numbers asked for in one URL-refresh call.
REFRESH_BATCH = 500

Refresh = Callable[[list[int]], Awaitable[list[PartSpec]]]


class PartUrls:
    """The current URL of every part of one upload, refreshed before it expires.

    A URL counts as expiring within ``margin`` seconds of its ``expires_at``, or within
    half its lifetime if that is shorter (short-lived URLs would otherwise always be
    "expiring").  When one part finds its URL expiring, every unsent part whose URL is
    expiring too is refreshed with it, in batches of :data:`REFRESH_BATCH`, so a slow
    upload costs a few refresh calls, not one per part.
    """

    def __init__(
        self,
        parts: Iterable[PartSpec],
        refresh: Refresh,
        *,
        margin: float,
        clock: Callable[[], float],
    ) -> None:
        self._refresh_call = refresh
        self._margin = margin
        self._clock = clock
        self._parts = {part.number: part for part in parts}
        self._received_at = dict.fromkeys(self._parts, clock())
        self._lock: asyncio.Lock | None = None

    def __getitem__(self, number: int) -> PartSpec:
        return self._parts[number]

    async def usable(self, number: int, *, sent: Container[int]) -> PartSpec:
        """Part ``number`` with a URL that is not about to expire (refreshing, with it,
        every part not in ``sent`` that is expiring too)."""
        if not self._expiring(number, self._clock()):
            return self._parts[number]
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            now = self._clock()
            if self._expiring(number, now):  # not refreshed by another part meanwhile
                due = [n for n in self._parts if n not in sent and self._expiring(n, now)]
                for start in range(0, len(due), REFRESH_BATCH):
                    await self.refresh(due[start : start + REFRESH_BATCH])
        return self._parts[number]

    async def refresh(self, numbers: list[int]) -> None:
        """Fresh URLs for parts ``numbers`` (after the storage refused one as expired)."""
        fresh = await self._refresh_call(numbers)
        now = self._clock()
        for part in fresh:
            planned = self._parts.get(part.number)
            if planned is None or (part.offset, part.length) != (planned.offset, planned.length):
                where = (
                    "a part not in the plan"
                    if planned is None
                    else f"bytes {part.offset}..{part.end}, not {planned.offset}..{planned.end}"
                )
                raise ProtocolError(
                    f"a refreshed URL for part {part.number} covers {where}: the server "
                    "changed the part plan under the upload; refusing to send other bytes"
                )
            self._parts[part.number] = part
            self._received_at[part.number] = now

    def _expiring(self, number: int, now: float) -> bool:
        part = self._parts[number]
        if part.expires_at is None:
            return False
        lifetime = part.expires_at - self._received_at.get(number, now)
        margin = min(self._margin, max(lifetime, 0.0) / 2)
        return part.expires_at - now <= margin
