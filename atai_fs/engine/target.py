"""The contract between the vendor-neutral engine and one upload API.

A target turns "upload N bytes" into API calls: it asks the server for a part plan,
PUTs parts where the plan says, refreshes URLs, checkpoints, completes or aborts.  The
engine decides *when* each happens (concurrency, retries, batching); the target knows
*how* for its API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .body import PartBody
from .plan import PartSpec, UploadPlan

__all__ = ["UploadTarget"]


class UploadTarget(Protocol):
    """One destination file on one upload API."""

    #: A short, secret-free description used in errors and logs (e.g. ``atai://x.csv``).
    description: str

    async def initiate(self, size: int, *, resume: bool | None = None) -> UploadPlan:
        """Start an upload of ``size`` bytes and return the server's part plan.

        ``resume`` overrides whether an in-progress upload of the same destination may
        be resumed (``None``: the target's own setting).
        """
        ...

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        """Return fresh part descriptors (new URLs) for parts ``numbers``."""
        ...

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        """Send one part and return the token the API wants back at completion.

        Raises :class:`~atai_fs.errors.UrlExpired` when the URL must be refreshed.
        """
        ...

    async def checkpoint(self, plan: UploadPlan, tokens: Mapping[int, str]) -> None:
        """Persist finished parts server-side so a later run can resume (may be a no-op)."""
        ...

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Mapping[str, Any]:
        """Publish the file from the tokens of parts not yet checkpointed.

        ``crc32c`` is the whole file's CRC32C when the plan's ``integrity_algorithm``
        asked for it (the target formats it as its API wants).
        """
        ...

    async def is_published(self, plan: UploadPlan) -> bool:
        """Whether this upload's file is already published (a lost complete answer)."""
        ...

    async def abort(self, plan: UploadPlan) -> None:
        """Abandon the upload so nothing is published and storage is released."""
        ...
