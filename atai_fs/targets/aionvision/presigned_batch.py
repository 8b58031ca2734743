"""One presigned batch: up to five large files in one ``batch-prepare`` / ``batch-confirm``
round (spec section 3.8-3.10, flow 4).

1. ``batch-prepare`` (with ``intent``) answers a signed PUT URL per file and an
   ``upload_plan``: ``strategy`` (``parallel`` or ``sequential``), ``max_concurrent``
   and ``timeout_per_upload``, which the PUTs follow.
2. Each file is PUT with exactly its ``upload_headers`` (never the API key), retried
   with the same bytes; the MD5 of what was sent goes to the confirm as its checksum,
   so the API checks that it stored those very bytes.
3. ``batch-confirm`` carries one confirmation per file: a PUT that failed for good is
   confirmed with ``success: false`` and its error, and that file's result says why.
4. With ``wait``, ``GET /uploads/batch/{batch_id}/status`` is followed until nothing is
   left processing; files whose processing failed (or is stuck) are failures.

A batch is an upload session under its ``batch_id``: an exception or an interrupt
(Ctrl-C) before the batch is through cancels that session, so files left unprocessed
consume no credits.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fsspec.callbacks import Callback

from ...engine.body import PartBody
from ...engine.retry import RetryPolicy
from ...engine.sources import FileSource
from ...errors import AtaiFsError, NotFound, ProtocolError
from ..presigned import put_part_presigned
from .api import AionVisionApi
from .options import FileEntry, UploadOptions, UploadResult
from .processing import ProcessingWait
from .sessions import cancel_abandoned
from .target import presigned_part, put_headers

__all__ = ["MAX_PRESIGNED_BATCH", "PresignedBatch", "UploadPlanRules"]

#: Files per ``batch-prepare`` (spec: 1 to 5).
MAX_PRESIGNED_BATCH = 5

_STILL_GOING = ("uploading", "confirming", "queued", "processing")


@dataclass(frozen=True)
class UploadPlanRules:
    """What a batch's ``upload_plan`` asks of its PUTs."""

    width: int
    """PUTs at once: 1 for ``sequential``, else ``max_concurrent``."""
    timeout: float | None
    """Seconds one file's upload (its retries included) may take."""

    @classmethod
    def of(cls, plan: Mapping[str, Any], files: int) -> UploadPlanRules:
        concurrent = plan.get("max_concurrent")
        width = concurrent if isinstance(concurrent, int) and concurrent >= 1 else 1
        if plan.get("strategy") == "sequential":
            width = 1
        timeout = plan.get("timeout_per_upload")
        seconds = float(timeout) if isinstance(timeout, (int, float)) and timeout > 0 else None
        return cls(width=min(width, max(files, 1)), timeout=seconds)


class PresignedBatch:
    """Uploads one group of at most :data:`MAX_PRESIGNED_BATCH` large files (see the
    module docstring); ``wait`` is ``None`` when the batch is not followed."""

    def __init__(
        self,
        api: AionVisionApi,
        retry: RetryPolicy,
        *,
        chunk_size: int,
        wait: ProcessingWait | None,
    ) -> None:
        self.api = api
        self.retry = retry
        self.chunk_size = chunk_size
        self.wait = wait

    async def run(
        self, entries: Sequence[FileEntry], options: UploadOptions, callback: Callback
    ) -> dict[int, UploadResult] | None:
        """One result per entry (by its index); ``None`` when the API has no
        ``batch-prepare`` route (404: it is absent from one revision of the docs).
        Raises only what the batch as a whole could not get past (after cancelling its
        session)."""
        if not 1 <= len(entries) <= MAX_PRESIGNED_BATCH:
            raise ValueError(f"a presigned batch takes 1 to {MAX_PRESIGNED_BATCH} files")
        try:
            prepared = await self._prepare(entries, options)
        except NotFound:
            return None
        batch_id = str(prepared["batch_id"])
        finished = False
        try:
            urls = _urls_by_entry(prepared, len(entries))
            rules = UploadPlanRules.of(prepared["upload_plan"], len(entries))
            slots = asyncio.Semaphore(rules.width)

            async def put(entry: FileEntry, url: Mapping[str, Any]) -> dict[str, Any]:
                async with slots:
                    confirmation = await self._put(entry, url, rules.timeout)
                callback.relative_update(1)
                return confirmation

            confirmations = await asyncio.gather(
                *(put(entry, url) for entry, url in zip(entries, urls, strict=True))
            )
            answer = await self.retry.run(
                functools.partial(self.api.batch_confirm, batch_id, confirmations),
                what=f"confirming presigned batch {batch_id}",
            )
            results = self._results(entries, urls, confirmations, answer, batch_id)
            if self.wait is not None:
                await self._follow(batch_id, entries, results)
            finished = True
            return results
        finally:
            if not finished:
                await cancel_abandoned(self.api, batch_id)

    async def _prepare(
        self, entries: Sequence[FileEntry], options: UploadOptions
    ) -> Mapping[str, Any]:
        files = [
            {
                "filename": entry.name,
                "size_bytes": entry.size,
                "content_type": entry.content_type,
                # One key per file, kept across this call's retries: a retried prepare
                # answers the same object keys instead of reserving new ones.
                "idempotency_key": str(uuid.uuid4()),
                "storage_target": options.storage_target,
            }
            for entry in entries
        ]
        return await self.retry.run(
            functools.partial(self.api.batch_prepare, files, intent=options.intent or "describe"),
            what=f"preparing a presigned batch of {len(entries)} files",
        )

    async def _put(
        self, entry: FileEntry, url: Mapping[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        """PUT one file; its confirmation (``success: false`` with the error when the
        PUT failed for good)."""
        object_key = str(url["object_key"])
        confirmation: dict[str, Any] = {"object_key": object_key, "file_size": entry.size}
        try:
            checksum = await asyncio.wait_for(self._put_retried(entry, url), timeout)
        except asyncio.TimeoutError:
            error = f"not uploaded within the plan's timeout_per_upload of {timeout:g} s"
            return {**confirmation, "success": False, "error_message": error}
        except AtaiFsError as exc:
            return {**confirmation, "success": False, "error_message": str(exc)}
        return {**confirmation, "success": True, "checksum": checksum}

    async def _put_retried(self, entry: FileEntry, url: Mapping[str, Any]) -> str:
        sent = put_headers(url, entry.lpath)
        part = presigned_part(url, entry.size)
        source = FileSource(entry.lpath)
        try:

            async def attempt() -> str:
                md5 = hashlib.md5(usedforsecurity=False)
                body = PartBody(
                    source, 0, entry.size, chunk_size=self.chunk_size, on_chunk=md5.update
                )
                await put_part_presigned(self.api.http, part, body, headers=sent)
                return md5.hexdigest()

            return await self.retry.run(attempt, what=f"uploading {entry.lpath} (presigned)")
        finally:
            source.close()

    @staticmethod
    def _results(
        entries: Sequence[FileEntry],
        urls: Sequence[Mapping[str, Any]],
        confirmations: Sequence[Mapping[str, Any]],
        answer: Mapping[str, Any],
        batch_id: str,
    ) -> dict[int, UploadResult]:
        stored = {
            str(item.get("object_key")): item
            for item in answer.get("stored_images") or []
            if isinstance(item, Mapping)
        }
        results = {}
        for entry, url, confirmation in zip(entries, urls, confirmations, strict=True):
            object_key = str(url["object_key"])
            image = stored.get(object_key)
            common: dict[str, Any] = {
                "session_id": batch_id,
                "sha256": entry.sha256,
                "object_key": object_key,
            }
            if image is not None and confirmation["success"]:
                results[entry.index] = UploadResult(
                    entry.lpath,
                    entry.name,
                    "uploaded",
                    "presigned-batch",
                    image_id=str(image.get("image_id")),
                    response=dict(image),
                    **common,
                )
                continue
            error = confirmation.get("error_message") or (
                f"the API did not store it ({answer.get('message') or 'no reason given'})"
            )
            results[entry.index] = UploadResult(
                entry.lpath, entry.name, "failed", "presigned-batch", error=str(error), **common
            )
        return results

    async def _follow(
        self, batch_id: str, entries: Sequence[FileEntry], results: dict[int, UploadResult]
    ) -> None:
        """Poll the batch until nothing is left processing; then files whose processing
        failed or is stuck become failures, and those still going stay ``pending``."""
        wait = self.wait
        assert wait is not None
        clock, sleep = self.retry.clock, self.retry.sleep
        deadline = clock() + wait.timeout
        while True:
            status = await self.retry.run(
                functools.partial(self.api.batch_status, batch_id),
                what=f"following presigned batch {batch_id}",
            )
            counts = status["counts"]
            going = sum(int(counts.get(name) or 0) for name in _STILL_GOING)
            stuck = int(counts.get("stuck") or 0)
            if going <= stuck or clock() + wait.interval > deadline:
                break
            await sleep(wait.interval)
        for entry in entries:
            result = results[entry.index]
            if result.status != "uploaded" or result.image_id is None:
                continue
            if going == 0 and not stuck and not int(counts.get("failed") or 0):
                continue  # every file completed: nothing more to ask
            image = await wait.status(result.image_id)
            if image.get("unified_status") == "failed":
                why = f"processing failed: {image.get('error_message') or 'no reason given'}"
            elif image.get("is_stuck") is True:
                why = "stored, but stuck in processing"
            elif image.get("unified_status") != "completed":
                results[entry.index] = _replace(result, status="pending")
                continue
            else:
                continue
            results[entry.index] = _replace(result, status="failed", error=why)


def _replace(result: UploadResult, **changes: Any) -> UploadResult:
    return UploadResult.from_completion({**result.completion(), **changes})


def _urls_by_entry(prepared: Mapping[str, Any], count: int) -> list[Mapping[str, Any]]:
    """The ``presigned_urls`` items in the order of the files sent (by ``file_index``)."""
    by_index = {item["file_index"]: item for item in prepared["presigned_urls"]}
    if sorted(by_index) != list(range(count)):
        raise ProtocolError(
            f"preparing a presigned batch of {count} files: the answer has URLs for files "
            f"{sorted(by_index)}, not for each of 0..{count - 1}"
        )
    return [by_index[i] for i in range(count)]
