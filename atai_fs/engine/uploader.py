"""Drives one upload from start to a published file, or to an abort.

The uploader owns the *when* of an upload: how many part PUTs run at once (a semaphore
shared by every upload of a filesystem, so ``put`` of many files stays bounded), retries
with the shared :class:`~atai_fs.engine.retry.RetryPolicy`, refreshing URLs before they
expire (in batches) and after the storage refuses one, checking each part's ETag against
the MD5 of the bytes sent, computing the whole-file CRC32C when the API wants one,
batching checkpoints, progress callbacks, and the rule that a failure aborts (or, for a
resumable upload, leaves it resumable): a file becomes visible only through a
successful complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fsspec.callbacks import Callback, NoOpCallback

from ..checksums import crc32c_of_parts, crc32c_update, md5_of_etag
from ..errors import (
    AtaiFsError,
    Conflict,
    InvalidRequest,
    ProtocolError,
    UploadFailed,
    UrlExpired,
)
from .body import DEFAULT_CHUNK_SIZE, PartBody
from .plan import PartSpec, UploadPlan
from .retry import RetryPolicy
from .sources import Buffer, PartSource
from .target import UploadTarget

__all__ = ["TransferConfig", "Uploader"]

log = logging.getLogger("atai_fs")

#: Most part numbers asked for in one URL-refresh call.
_REFRESH_BATCH = 500


@dataclass(frozen=True)
class TransferConfig:
    """Knobs of the engine, shared by every upload of a filesystem.

    ``max_concurrency`` part PUTs run at once per filesystem (8 keeps a 1 Gbit/s link full
    with 8 MiB parts while bounding memory and server load).  ``spool_threshold`` is the
    most a write keeps in memory before spilling to a temporary file.  Resumable uploads
    checkpoint finished parts in batches of ``checkpoint_parts`` (default: an eighth of
    the parts, at least 8) or every ``checkpoint_seconds``, never one call per part.
    URLs expiring within ``url_refresh_margin`` seconds (or half their lifetime, if
    shorter) are refreshed before use.  ``verify_etag`` compares MD5 ETags with the bytes
    sent and resends a part on mismatch.
    """

    max_concurrency: int = 8
    chunk_size: int = DEFAULT_CHUNK_SIZE
    spool_threshold: int = 8 << 20
    spool_dir: str | None = None
    checkpoint_parts: int | None = None
    checkpoint_seconds: float = 10.0
    url_refresh_margin: float = 60.0
    verify_etag: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise InvalidRequest("max_concurrency must be at least 1")
        if self.chunk_size < 1:
            raise InvalidRequest("chunk_size must be at least 1 byte")
        if self.spool_threshold < 0:
            raise InvalidRequest("spool_threshold must not be negative")
        if self.checkpoint_parts is not None and self.checkpoint_parts < 1:
            raise InvalidRequest("checkpoint_parts must be at least 1")


class PartCorrupted(UploadFailed):
    """The storage's ETag for a part is not the MD5 of the bytes sent: resend it."""

    retryable = True


class Uploader:
    """One upload through one :class:`UploadTarget`.

    Use :meth:`upload` when every byte is available up front (a local file, bytes, a
    finished spool).  Streaming writers call :meth:`start`, then :meth:`send_part` as
    parts fill up, then :meth:`finish`; on any error they call :meth:`abort`.

    With ``resumable=True`` finished parts are checkpointed, and a failure of
    :meth:`upload` leaves the upload in progress on the server (so a later run can
    resume it) instead of aborting it; the error says so and names the upload.
    """

    def __init__(
        self,
        target: UploadTarget,
        *,
        limiter: asyncio.Semaphore,
        config: TransferConfig,
        callback: Callback | None = None,
        resumable: bool = False,
    ) -> None:
        self.target = target
        self.config = config
        self.resumable = resumable
        self._limiter = limiter
        self._plan_limiter: asyncio.Semaphore | None = None  # the server's own cap, if any
        self._callback = callback or NoOpCallback()
        self.plan: UploadPlan | None = None
        self._parts: dict[int, PartSpec] = {}
        self._received_at: dict[int, float] = {}
        self._tokens: dict[int, str] = {}
        self._unsaved: dict[int, str] = {}
        self._part_crcs: dict[int, int] = {}
        self._checkpoint_every = 1
        self._last_checkpoint = time.monotonic()
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._refresh_lock: asyncio.Lock | None = None
        self._finished = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, size: int) -> UploadPlan:
        """Initiate the upload and check the server's plan against ``size``."""
        plan = await self.initiate(size)
        await self.adopt(plan, size)
        return plan

    async def initiate(self, size: int, *, resume: bool | None = None) -> UploadPlan:
        """Ask the server for a plan without adopting it (the caller vets resumed plans).

        ``resume=False`` forces a fresh upload on a target that would otherwise resume.
        """
        return await self._retry(lambda: self.target.initiate(size, resume=resume), "initiate")

    async def abandon(self, upload_id: str | None) -> None:
        """Abort an upload this uploader did not adopt (a stale or foreign one)."""
        if upload_id is None:
            return
        stale = UploadPlan(upload_id=upload_id, total_bytes=0, num_parts=0, parts=[])
        try:
            await self._retry(lambda: self.target.abort(stale), "abort a stale upload")
        except AtaiFsError as exc:
            log.info("stale upload %s could not be aborted: %s", upload_id, exc)

    async def adopt(self, plan: UploadPlan, size: int) -> None:
        """Take over a plan (from :meth:`start`, or a resumed upload the caller vetted)."""
        self.plan = plan
        if plan.max_concurrency:
            self._plan_limiter = asyncio.Semaphore(plan.max_concurrency)
        self._parts = {part.number: part for part in plan.parts}
        now = time.time()
        self._received_at = dict.fromkeys(self._parts, now)
        self._checkpoint_every = self.config.checkpoint_parts or max(
            8, math.ceil(plan.num_parts / 8)
        )
        try:
            plan.check_against(size)
        except AtaiFsError:
            await self.abort()
            raise
        self._callback.set_size(plan.total_bytes)
        if plan.bytes_already_uploaded:
            self._callback.relative_update(plan.bytes_already_uploaded)

    def report_start(self, size: int) -> None:
        """Progress for a file sent some other way (e.g. in one request)."""
        self._callback.set_size(size)

    def report_sent(self, size: int) -> None:
        self._callback.relative_update(size)

    async def send_part(self, part: PartSpec, source: PartSource) -> None:
        """PUT one part (retrying transient failures) and record its token."""
        async with self._plan_limiter or contextlib.nullcontext(), self._limiter:
            token = await self._retry(
                lambda: self._put_once(part.number, source), f"part {part.number}"
            )
        self._tokens[part.number] = token
        self._callback.relative_update(part.length)
        if self.resumable:
            self._unsaved[part.number] = token
            await self._maybe_checkpoint()

    async def finish(self) -> Mapping[str, Any]:
        """Complete the upload once every planned part was sent."""
        plan = self._require_plan()
        missing = [part.number for part in plan.parts if part.number not in self._tokens]
        if missing:
            raise UploadFailed(
                f"cannot complete {self.target.description}: parts {missing[:10]} were not sent",
                upload_id=plan.upload_id,
            )
        await self._checkpoint_settled()
        tokens = dict(self._unsaved if self.resumable else self._tokens)
        crc32c = self._whole_crc32c(plan)
        attempts = 0

        async def complete_once() -> Mapping[str, Any]:
            nonlocal attempts
            attempts += 1
            try:
                return await self.target.complete(plan, tokens, crc32c=crc32c)
            except (Conflict, ProtocolError) as exc:
                # The complete landed but its answer was lost (a retry then sees 409) or
                # garbled: the file is published if the server says so.
                landed_before = isinstance(exc, Conflict) and attempts > 1
                if (landed_before or isinstance(exc, ProtocolError)) and (
                    await self.target.is_published(plan)
                ):
                    return {"upload_id": plan.upload_id, "recovered": True}
                raise

        result = await self._retry(complete_once, "complete")
        self._finished = True
        return result

    async def abort(self) -> None:
        """Abandon the upload; never raises, since it runs while another error propagates."""
        plan = self.plan
        if plan is None or self._finished:
            return
        self._finished = True
        try:
            await self._retry(lambda: self.target.abort(plan), "abort")
        except Exception as exc:  # the original failure matters more than this one
            log.warning(
                "could not abort upload %s of %s: %s", plan.upload_id, self.target.description, exc
            )

    async def upload(self, source: PartSource) -> Mapping[str, Any]:
        """Upload everything ``source`` holds: initiate, all parts concurrently, complete."""
        await self.start(source.size)
        return await self.send_and_finish(source)

    async def send_and_finish(self, source: PartSource) -> Mapping[str, Any]:
        """Send every planned part, then complete; abort (or keep resumable) on failure."""
        try:
            await self.send_all(source)
            return await self.finish()
        except Exception as exc:
            if self.resumable and not self._finished:
                await asyncio.shield(self._save_progress())
                raise self._left_resumable(exc) from exc
            await asyncio.shield(self.abort())
            raise
        except BaseException:
            # Cancelled (Ctrl-C, a task torn down): a resumable upload stays resumable.
            if not self.resumable:
                await asyncio.shield(self.abort())
            raise

    async def send_all(self, source: PartSource) -> None:
        """Send every planned part from ``source``, ``max_concurrency`` at a time."""
        plan = self._require_plan()
        parts = plan.parts
        pending = iter(parts)
        width = min(self.config.max_concurrency, plan.max_concurrency or len(parts), len(parts))

        async def worker() -> None:
            for part in pending:
                await self.send_part(part, source)

        workers = [asyncio.ensure_future(worker()) for _ in range(width)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise

    # -- internals -------------------------------------------------------------------

    def _require_plan(self) -> UploadPlan:
        if self.plan is None:
            raise RuntimeError("the upload was not started")
        return self.plan

    async def _retry(self, operation: Callable[[], Any], what: str) -> Any:
        return await self.config.retry.run(operation, what=f"{what} of {self.target.description}")

    async def _put_once(self, number: int, source: PartSource) -> str:
        part = await self._usable_part(number)
        md5 = hashlib.md5(usedforsecurity=False) if self.config.verify_etag else None
        wants_crc = self._require_plan().integrity_algorithm == "crc32c"
        crc = 0

        def observe(chunk: Buffer) -> None:
            nonlocal crc
            if md5 is not None:
                md5.update(chunk)
            if wants_crc:
                crc = crc32c_update(crc, chunk)

        body = PartBody(
            source,
            part.offset,
            part.length,
            chunk_size=self.config.chunk_size,
            on_chunk=observe if (md5 is not None or wants_crc) else None,
        )
        try:
            token = await self.target.put_part(part, body)
        except UrlExpired:
            await self._refresh([number])
            raise
        expected = md5_of_etag(token) if md5 is not None else None
        if md5 is not None and expected is not None and expected != md5.hexdigest():
            raise PartCorrupted(
                f"part {number} of {self.target.description}: the storage's ETag {token} is "
                f"not the MD5 of the {part.length} bytes sent ({md5.hexdigest()}); resending"
            )
        if wants_crc:
            self._part_crcs[number] = crc
        return token

    async def _usable_part(self, number: int) -> PartSpec:
        """The part's descriptor, with a fresh URL if the current one is about to expire."""
        part = self._parts[number]
        if part.expires_at is None or not self._expiring(number, time.time()):
            return part
        if self._refresh_lock is None:
            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            now = time.time()
            if self._expiring(number, now):  # not refreshed by another part meanwhile
                due = [n for n in self._parts if n not in self._tokens and self._expiring(n, now)]
                for start in range(0, len(due), _REFRESH_BATCH):
                    await self._refresh(due[start : start + _REFRESH_BATCH])
        return self._parts[number]

    def _expiring(self, number: int, now: float) -> bool:
        part = self._parts[number]
        if part.expires_at is None:
            return False
        lifetime = part.expires_at - self._received_at.get(number, now)
        margin = min(self.config.url_refresh_margin, max(lifetime, 0.0) / 2)
        return part.expires_at - now <= margin

    async def _refresh(self, numbers: list[int]) -> None:
        plan = self._require_plan()
        fresh = await self._retry(lambda: self.target.refresh_urls(plan, numbers), "refresh URLs")
        now = time.time()
        for part in fresh:
            if part.number in self._parts:
                self._parts[part.number] = part
                self._received_at[part.number] = now

    def _whole_crc32c(self, plan: UploadPlan) -> int | None:
        if plan.integrity_algorithm != "crc32c":
            return None
        if plan.is_resume:
            return None  # parts sent by an earlier run were not seen: nothing to combine
        ordered = sorted(plan.parts, key=lambda part: part.offset)
        return crc32c_of_parts((self._part_crcs[p.number], p.length) for p in ordered)

    async def _maybe_checkpoint(self) -> None:
        """Start a checkpoint in the background when a batch is due (one at a time, so
        parts keep flowing and batches stay whole)."""
        running = self._checkpoint_task is not None and not self._checkpoint_task.done()
        due = (
            len(self._unsaved) >= self._checkpoint_every
            or time.monotonic() - self._last_checkpoint >= self.config.checkpoint_seconds
        )
        if due and not running:
            if self._checkpoint_task is not None:
                self._checkpoint_task.result()  # surface a failed earlier checkpoint
            self._checkpoint_task = asyncio.ensure_future(self._checkpoint())

    async def _checkpoint_settled(self) -> None:
        """Wait for a running checkpoint, so complete lists exactly the unsaved parts."""
        if self._checkpoint_task is not None:
            task, self._checkpoint_task = self._checkpoint_task, None
            await task

    async def _checkpoint(self) -> None:
        batch = dict(self._unsaved)
        if not batch:
            return
        plan = self._require_plan()
        self._last_checkpoint = time.monotonic()
        await self._retry(lambda: self.target.checkpoint(plan, batch), "checkpoint")
        for number, token in batch.items():
            if self._unsaved.get(number) == token:
                del self._unsaved[number]

    async def _save_progress(self) -> None:
        """Checkpoint what was sent before giving up, so a resume re-sends only the rest."""
        try:
            await self._checkpoint_settled()
        except Exception as exc:
            log.info("an earlier checkpoint of %s failed: %s", self.target.description, exc)
        try:
            await self._checkpoint()
        except Exception as exc:
            log.warning("could not checkpoint %s before stopping: %s", self.target.description, exc)

    def _left_resumable(self, exc: Exception) -> UploadFailed:
        plan = self._require_plan()
        message = (
            f"uploading {self.target.description} failed: {exc}. The upload {plan.upload_id} "
            f"was left in progress with {len(self._tokens)} of {len(plan.parts)} parts sent; "
            "run the same put_file again to resume it"
        )
        error = UploadFailed(message, upload_id=plan.upload_id)
        if isinstance(exc, AtaiFsError):
            error.status, error.code = exc.status, exc.code
        return error
