"""Drives one upload from start to a published file, or to an abort.

The uploader owns the *when* of an upload: how many part PUTs run at once (a semaphore
shared by every upload of a filesystem, so ``put`` of many files stays bounded), retries
with the shared :class:`~atai_fs.engine.retry.RetryPolicy`, refreshing expired URLs,
batching checkpoints, progress callbacks, and the rule that any failure aborts: a file
becomes visible only through a successful complete.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fsspec.callbacks import Callback, NoOpCallback

from ..errors import AtaiFsError, InvalidRequest, UploadFailed, UrlExpired
from .body import DEFAULT_CHUNK_SIZE, PartBody
from .plan import PartSpec, UploadPlan
from .retry import RetryPolicy
from .sources import PartSource
from .target import UploadTarget

__all__ = ["TransferConfig", "Uploader"]

log = logging.getLogger("atai_fs")


@dataclass(frozen=True)
class TransferConfig:
    """Knobs of the engine, shared by every upload of a filesystem.

    ``max_concurrency`` part PUTs run at once per filesystem (8 keeps a 1 Gbit/s link full
    with 8 MiB parts while bounding memory and server load).  ``spool_threshold`` is the
    most a write of unknown size, or one part of a known-size write, keeps in memory
    before spilling to a temporary file.  Checkpoints (for resumable uploads) are sent
    in batches of ``checkpoint_parts`` or every ``checkpoint_seconds``, never per part.
    """

    max_concurrency: int = 8
    chunk_size: int = DEFAULT_CHUNK_SIZE
    spool_threshold: int = 8 << 20
    spool_dir: str | None = None
    checkpoint_parts: int = 32
    checkpoint_seconds: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise InvalidRequest("max_concurrency must be at least 1")
        if self.chunk_size < 1:
            raise InvalidRequest("chunk_size must be at least 1 byte")
        if self.spool_threshold < 0:
            raise InvalidRequest("spool_threshold must not be negative")


class Uploader:
    """One upload through one :class:`UploadTarget`.

    Use :meth:`upload` when every byte is available up front (a local file, bytes, a
    finished spool).  Streaming writers call :meth:`start`, then :meth:`send_part` as
    parts fill up, then :meth:`finish`; on any error they call :meth:`abort`.
    """

    def __init__(
        self,
        target: UploadTarget,
        *,
        limiter: asyncio.Semaphore,
        config: TransferConfig,
        callback: Callback | None = None,
        checkpoint: bool = False,
    ) -> None:
        self.target = target
        self.config = config
        self._limiter = limiter
        self._callback = callback or NoOpCallback()
        self._checkpoint_enabled = checkpoint
        self.plan: UploadPlan | None = None
        self._parts: dict[int, PartSpec] = {}
        self._tokens: dict[int, str] = {}
        self._unsaved: dict[int, str] = {}
        self._last_checkpoint = time.monotonic()
        self._checkpoint_lock = asyncio.Lock()
        self._finished = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self, size: int) -> UploadPlan:
        """Initiate the upload and check the server's plan against ``size``."""
        plan = await self.config.retry.run(
            lambda: self.target.initiate(size), what=f"initiate {self.target.description}"
        )
        self.plan = plan
        self._parts = {part.number: part for part in plan.parts}
        try:
            plan.check_against(size)
        except AtaiFsError:
            await self.abort()
            raise
        self._callback.set_size(plan.total_bytes)
        if plan.bytes_already_uploaded:
            self._callback.relative_update(plan.bytes_already_uploaded)
        return plan

    async def send_part(self, part: PartSpec, source: PartSource) -> None:
        """PUT one part (retrying transient failures) and record its token."""
        async with self._limiter:
            token = await self.config.retry.run(
                lambda: self._put_once(part.number, source),
                what=f"part {part.number} of {self.target.description}",
            )
        self._tokens[part.number] = token
        self._callback.relative_update(part.length)
        if self._checkpoint_enabled:
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
        tokens = self._unsaved if self._checkpoint_enabled else self._tokens
        result = await self.config.retry.run(
            lambda: self.target.complete(plan, dict(tokens)),
            what=f"complete {self.target.description}",
        )
        self._finished = True
        return result

    async def abort(self) -> None:
        """Abandon the upload; never raises, since it runs while another error propagates."""
        plan = self.plan
        if plan is None or self._finished:
            return
        self._finished = True
        try:
            await self.config.retry.run(
                lambda: self.target.abort(plan), what=f"abort {self.target.description}"
            )
        except Exception as exc:  # the original failure matters more than this one
            log.warning(
                "could not abort upload %s of %s: %s", plan.upload_id, self.target.description, exc
            )

    async def upload(self, source: PartSource) -> Mapping[str, Any]:
        """Upload everything ``source`` holds: initiate, all parts concurrently, complete."""
        await self.start(source.size)
        try:
            await self.send_all(source)
            return await self.finish()
        except BaseException:
            await asyncio.shield(self.abort())
            raise

    def _require_plan(self) -> UploadPlan:
        if self.plan is None:
            raise RuntimeError("the upload was not started")
        return self.plan

    async def send_all(self, source: PartSource) -> None:
        """Send every planned part from ``source``, ``max_concurrency`` at a time."""
        parts = self._require_plan().parts
        pending = iter(parts)

        async def worker() -> None:
            for part in pending:
                await self.send_part(part, source)

        workers = [
            asyncio.ensure_future(worker())
            for _ in range(min(self.config.max_concurrency, len(parts)))
        ]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise

    # -- internals -------------------------------------------------------------------

    async def _put_once(self, number: int, source: PartSource) -> str:
        part = self._current_part(number)
        body = PartBody(source, part.offset, part.length, chunk_size=self.config.chunk_size)
        try:
            return await self.target.put_part(part, body)
        except UrlExpired:
            await self._refresh([number])
            raise

    def _current_part(self, number: int) -> PartSpec:
        """The part's latest descriptor (its URL may have been refreshed)."""
        return self._parts[number]

    async def _refresh(self, numbers: list[int]) -> None:
        plan = self._require_plan()
        fresh = await self.config.retry.run(
            lambda: self.target.refresh_urls(plan, numbers),
            what=f"refresh URLs of {self.target.description}",
        )
        for part in fresh:
            if part.number in self._parts:
                self._parts[part.number] = part

    async def _maybe_checkpoint(self, *, force: bool = False) -> None:
        due = (
            force
            or len(self._unsaved) >= self.config.checkpoint_parts
            or time.monotonic() - self._last_checkpoint >= self.config.checkpoint_seconds
        )
        if not due or not self._unsaved:
            return
        async with self._checkpoint_lock:
            batch = dict(self._unsaved)
            if not batch:
                return
            plan = self._require_plan()
            await self.config.retry.run(
                lambda: self.target.checkpoint(plan, batch),
                what=f"checkpoint {self.target.description}",
            )
            for number, token in batch.items():
                if self._unsaved.get(number) == token:
                    del self._unsaved[number]
            self._last_checkpoint = time.monotonic()
