"""Checkpoints of a resumable upload, batched: never one call per part.

The Files API resumes an upload from its checkpointed parts, and a checkpoint is one
API call under a rate limit of 100 a minute; the official client sends one per part
(130 calls for a 128-part file).  Finished parts are gathered here and sent in batches
(an eighth of the parts, at least 8, or whatever ``checkpoint_seconds`` gathered), one
batch at a time in the background so parts keep flowing; what is not checkpointed when
the upload completes travels with the complete.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping

__all__ = ["Checkpoints"]

log = logging.getLogger("atai_fs")

#: Sends one batch of ``part number -> token`` (the target's checkpoint, retried).
Send = Callable[[Mapping[int, str]], Awaitable[None]]


class Checkpoints:
    """The parts of one upload not yet checkpointed, and the batches that save them."""

    def __init__(
        self,
        send: Send,
        *,
        num_parts: int,
        every: int | None,
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._every = every or max(8, math.ceil(num_parts / 8))
        self._seconds = seconds
        self._clock = clock
        self._last = clock()
        self._task: asyncio.Task[None] | None = None
        self.unsaved: dict[int, str] = {}

    async def add(self, number: int, token: str) -> None:
        """A part finished: start a checkpoint in the background when a batch is due
        (one at a time, so parts keep flowing and batches stay whole)."""
        self.unsaved[number] = token
        running = self._task is not None and not self._task.done()
        due = len(self.unsaved) >= self._every or self._clock() - self._last >= self._seconds
        if due and not running:
            if self._task is not None:
                self._task.result()  # surface a failed earlier checkpoint
            self._task = asyncio.ensure_future(self._checkpoint())

    async def settled(self) -> Mapping[int, str]:
        """Wait for a running checkpoint; return the tokens no checkpoint holds (what
        complete must list)."""
        if self._task is not None:
            task, self._task = self._task, None
            await task
        return dict(self.unsaved)

    async def save_all(self, what: str) -> None:
        """Checkpoint what was sent before giving up, so a resume re-sends only the rest
        (never raises: the failure being reported matters more)."""
        try:
            await self.settled()
        except Exception as exc:
            log.info("an earlier checkpoint of %s failed: %s", what, exc)
        try:
            await self._checkpoint()
        except Exception as exc:
            log.warning("could not checkpoint %s before stopping: %s", what, exc)

    async def _checkpoint(self) -> None:
        batch = dict(self.unsaved)
        if not batch:
            return
        self._last = self._clock()
        await self._send(batch)
        for number, token in batch.items():
            if self.unsaved.get(number) == token:
                del self.unsaved[number]
