"""The contract between the vendor-neutral engine and one upload API.

A target turns "upload N bytes" into API calls: it asks the server for a part plan,
PUTs parts where the plan says, refreshes URLs, checkpoints, completes or aborts.  The
engine (:class:`~atai_fs.engine.uploader.Uploader`) decides *when* each happens
(route, concurrency, retries, batching, cleanup); the target knows *how* for its API.

Every method is a single attempt: the uploader wraps each in the filesystem's retry
policy.  Beyond the parts route every target has, a target may offer:

* **one request** for small files (:meth:`UploadTarget.fits_one_request` and
  :meth:`UploadTarget.upload_whole`), which the uploader takes when it fits;
* **preparation** between initiate and the first part (:meth:`UploadTarget.prepare`),
  e.g. digests the API wants before any body is sent;
* **a look** at the first bytes, before anything is declared (:meth:`UploadTarget.look_at`);
* **a shortcut** when the content is already stored (:meth:`UploadTarget.already_stored`);
* **resume** of an upload a failed run left in progress (:meth:`UploadTarget.resume`).

Targets are built whole by their constructor; nobody fills their fields from outside.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import AtaiFsError
from .body import PartBody
from .plan import PartSpec, UploadPlan
from .resume import LocalFileIdentity, ResumeRecord
from .retry import RetryPolicy
from .sources import LiveParts, PartSource

__all__ = ["Completion", "ResumeRequest", "Resumption", "UploadTarget"]

log = logging.getLogger("atai_fs")

#: What a published upload answered (the API's JSON, or what the target made of it).
Completion = Mapping[str, Any]


@dataclass(frozen=True)
class Resumption:
    """Where :meth:`UploadTarget.resume` leaves a resumable upload: a ``plan`` to send
    (fresh, or the rest of a resumed upload), or the ``result`` of an upload an earlier
    run had already published."""

    plan: UploadPlan | None = None
    result: Completion | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResumeRequest:
    """What :meth:`UploadTarget.resume` decides from: the file's ``size``, the local
    ``record`` of an earlier run (if any), the ``identity`` of the local file now, the
    ``source`` to read it from, and the ``retry`` policy of its calls."""

    size: int
    record: ResumeRecord | None
    identity: LocalFileIdentity
    source: PartSource
    retry: RetryPolicy


class UploadTarget:
    """One destination on one upload API (subclass and implement the parts route)."""

    #: A short, secret-free description used in errors and logs (e.g. ``atai://x.csv``).
    description: str = "an upload"
    #: The call that resumes an upload left in progress, as messages name it.
    resume_command: str = "put_file"

    # -- the parts route: every target ------------------------------------------------

    async def initiate(self, size: int) -> UploadPlan:
        """Start an upload of ``size`` bytes and return the server's part plan."""
        raise NotImplementedError

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        """Fresh part descriptors (new URLs) for parts ``numbers``."""
        raise NotImplementedError

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        """Send one part and return the token the API wants back at completion.

        Raises :class:`~atai_fs.errors.UrlExpired` when the URL must be refreshed.
        """
        raise NotImplementedError

    async def checkpoint(self, plan: UploadPlan, tokens: Mapping[int, str]) -> None:
        """Persist finished parts server-side so a later run can resume (default: none)."""

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Completion:
        """Publish the file from the tokens of parts not yet checkpointed.

        ``crc32c`` is the whole file's CRC32C when the plan's ``integrity_algorithm``
        asked for it (the target formats it as its API wants).
        """
        raise NotImplementedError

    async def is_published(self, plan: UploadPlan) -> Completion | None:
        """The completion of this upload if its file is already published (a complete
        whose answer was lost); ``None`` when it is not, or cannot be told."""
        return None

    async def abort(self, plan: UploadPlan) -> None:
        """Abandon the upload so nothing is published and storage is released."""
        raise NotImplementedError

    # -- optional capabilities ----------------------------------------------------------

    def fits_one_request(self, size: int) -> bool:
        """Whether a file of ``size`` bytes goes up in one request (:meth:`upload_whole`)."""
        return False

    async def upload_whole(self, source: PartSource) -> Completion | None:
        """Send the whole of ``source`` in one request; ``None`` when the server refused
        that route for this file (the uploader then takes the parts route)."""
        raise NotImplementedError

    async def prepare(self, plan: UploadPlan, source: PartSource | LiveParts) -> None:
        """Between initiate and the first part: compute what the API wants before any
        body is sent (default: nothing).  ``source`` is still filling for a write of known
        size (:class:`~atai_fs.engine.sources.LiveParts`): its bytes can only be observed
        as they are written."""

    def look_at(self, head: bytes) -> None:
        """The first bytes of a whole upload, before anything is declared: a target may
        learn from them what the bytes are, or refuse them (default: nothing)."""

    async def already_stored(self, source: PartSource) -> Completion | None:
        """A result that makes the upload unnecessary (the content is stored already)."""
        return None

    def upload_ended_by(self, error: BaseException) -> bool:
        """Whether ``error`` means the server ended the upload itself (it cannot be
        resumed, and there is nothing left to abort); by default no error does."""
        return False

    async def abandon(self, upload_id: str, retry: RetryPolicy) -> None:
        """Abort an upload this run did not adopt (a stale or foreign one); a failure to
        do so is logged, never raised, since a fresh upload follows anyway."""
        stale = UploadPlan(upload_id=upload_id, total_bytes=0, num_parts=0, parts=[])
        try:
            await retry.run(
                lambda: self.abort(stale), what=f"abort a stale upload of {self.description}"
            )
        except AtaiFsError as exc:
            log.info("stale upload %s could not be aborted: %s", upload_id, exc)

    def resume_details(self) -> Mapping[str, Any]:
        """What a resume record keeps beside the upload id (e.g. a digest)."""
        return {}

    async def resume(self, request: ResumeRequest) -> Resumption:
        """Continue the upload ``request.record`` names when it is still in progress and
        came from this very local file; otherwise abandon it and start afresh.

        Only targets that can resume implement this; the uploader never calls it for
        the others.
        """
        raise NotImplementedError
