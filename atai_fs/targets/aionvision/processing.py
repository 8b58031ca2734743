"""Waiting for Aionvision to finish processing stored files.

A stored file is ``queued``/``processing`` while the API describes it; the wait polls
``GET /uploads/status/{image_id}`` of each file until it is terminal (``completed`` or
``failed``), and turns what it finds into the caller's words: a
:class:`~atai_fs.errors.ProcessingFailed` naming every file that failed or is stuck, a
:class:`~atai_fs.errors.ProcessingTimeout` when the timeout runs out first.  Time comes
from the retry policy's clock and sleep, so tests play minutes of processing in a moment.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...engine.retry import RetryPolicy
from ...errors import ConfigurationError, ProcessingFailed, ProcessingTimeout
from .api import AionVisionApi

__all__ = ["ProcessingWait", "is_terminal"]

_TERMINAL = frozenset({"completed", "failed"})


def is_terminal(status: Mapping[str, Any]) -> bool:
    """Whether a status answer says processing is over (``is_terminal`` when given)."""
    stated = status.get("is_terminal")
    if isinstance(stated, bool):
        return stated
    return status.get("unified_status") in _TERMINAL


@dataclass(frozen=True)
class ProcessingWait:
    """Polls every ``interval`` seconds for at most ``timeout`` seconds."""

    api: AionVisionApi
    retry: RetryPolicy
    interval: float
    timeout: float

    def __post_init__(self) -> None:
        if not (self.interval > 0 and self.timeout >= 0):
            raise ConfigurationError(
                "poll_interval must be positive and the wait's timeout not negative"
            )

    async def status(self, image_id: str) -> Mapping[str, Any]:
        """One status answer (retried like every call)."""
        return await self.retry.run(
            functools.partial(self.api.image_status, image_id),
            what=f"reading the processing status of image {image_id}",
        )

    async def until_processed(
        self, images: Sequence[tuple[str, str]]
    ) -> dict[str, Mapping[str, Any]]:
        """The final status of each ``(label, image_id)``; raises when any failed or is
        stuck (after every file was looked at), or when time runs out."""
        clock, sleep = self.retry.clock, self.retry.sleep
        deadline = clock() + self.timeout
        final: dict[str, Mapping[str, Any]] = {}
        stuck: dict[str, Mapping[str, Any]] = {}
        while True:
            for _, image_id in images:
                if image_id in final or image_id in stuck:
                    continue
                status = await self.status(image_id)
                if is_terminal(status):
                    final[image_id] = status
                elif status.get("is_stuck") is True:
                    stuck[image_id] = status
            if len(final) + len(stuck) == len(images):
                break
            if clock() + self.interval > deadline:
                waiting = [label for label, i in images if i not in final and i not in stuck]
                raise ProcessingTimeout(
                    f"Aionvision was still processing {len(waiting)} of {len(images)} files "
                    f"after {self.timeout:g} s ({', '.join(waiting[:5])}); they are stored "
                    "and go on processing: wait longer with fs.wait(..., timeout=...)"
                )
            await sleep(self.interval)
        problems = []
        for label, image_id in images:
            ended = final.get(image_id)
            if image_id in stuck:
                problems.append(f"{label} (image {image_id}) is stuck in processing")
            elif ended is not None and ended.get("unified_status") == "failed":
                reason = ended.get("error_message") or "no reason given"
                problems.append(f"{label} (image {image_id}) failed processing: {reason}")
        if problems:
            only = images[0][1] if len(images) == 1 else None
            raise ProcessingFailed(
                f"{len(problems)} of {len(images)} files were stored but not processed: "
                + "; ".join(problems[:10])
                + ". Upload them again, or look them up in the Aionvision dashboard",
                upload_id=only,
            )
        return final
