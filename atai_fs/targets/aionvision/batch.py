"""``put`` of many files into Aionvision: one coordinator over the batch routes.

1. Every file is checked (format, size) before anything is sent.
2. With ``skip_duplicates``, every file is hashed and one ``check-duplicates`` call per
   250 hashes says which contents are stored already (and duplicates among the files
   themselves go up once).
3. One ``quota-check`` for the files left: a clear error before anything is sent when
   the workspace cannot take them.
4. Small files go in ``stream-batch`` requests of the tier's batch size and byte budget;
   each batch's session is followed until it finishes and its results are read;
   rejections the server marks retryable are sent again.  Large files go in presigned
   batches of up to five (:mod:`~atai_fs.targets.aionvision.presigned_batch`), or one
   by one through the presigned route where the API has no batch route (404).
5. A session the caller abandons (an exception, Ctrl-C) while it is followed is
   cancelled, so its unprocessed files consume no credits.

What happened to each file is one :class:`~atai_fs.targets.aionvision.options.UploadResult`,
in the order of the files given.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import os
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fsspec.callbacks import Callback

from ...engine.retry import RetryPolicy
from ...engine.sources import FileSource
from ...engine.uploader import Uploader
from ...errors import (
    AtaiFsError,
    ConfigurationError,
    InvalidRequest,
    QuotaExceeded,
    UnsupportedFormat,
    UploadFailed,
)
from .api import AionVisionApi
from .options import MAX_HASHES_PER_CHECK, FileEntry, UploadOptions, UploadResult, check_file
from .presigned_batch import MAX_PRESIGNED_BATCH, PresignedBatch
from .processing import ProcessingWait
from .sessions import cancel_abandoned
from .target import AionVisionTarget, sha256_of

__all__ = ["BatchSettings", "BatchUploads", "raise_for_failures"]

_TERMINAL_SESSION = frozenset({"completed", "failed", "expired", "cancelled"})
_RESULTS_PAGE = 500
#: Rounds of resending a batch's retryable rejections when the policy caps no tries.
_ROUNDS = 6


@dataclass(frozen=True)
class BatchSettings:
    """Sizes and patience of batch uploads (the filesystem's options): files up to
    ``stream_limit`` go in ``stream-batch`` requests of at most ``stream_batch_size``
    files and ``max_batch_bytes``; ``wait`` follows each batch's session, polling every
    ``poll_interval`` seconds for at most ``poll_timeout``."""

    stream_limit: int
    stream_batch_size: int
    max_batch_bytes: int
    max_file_size: int
    wait: bool
    poll_interval: float
    poll_timeout: float
    chunk_size: int

    def __post_init__(self) -> None:
        if min(self.stream_batch_size, self.stream_limit, self.max_batch_bytes) < 1:
            raise ConfigurationError(
                "stream_batch_size, stream_limit and max_batch_bytes must be positive"
            )


class BatchUploads:
    """Uploads many local files (see the module docstring).

    ``uploader_for`` builds the uploader of one large file's target, for an API without
    the batch route (so its part PUTs share the filesystem's concurrency bound).
    """

    def __init__(
        self,
        api: AionVisionApi,
        settings: BatchSettings,
        retry: RetryPolicy,
        uploader_for: Callable[[AionVisionTarget], Uploader],
    ) -> None:
        self.api = api
        self.settings = settings
        self.retry = retry
        self.uploader_for = uploader_for

    async def run(
        self, pairs: Sequence[tuple[str, str]], options: UploadOptions, callback: Callback
    ) -> list[UploadResult]:
        """Upload ``(local path, name)`` pairs; one result per pair, in order."""
        entries = self._plan(pairs)
        if options.title is not None and len(entries) > 1:
            raise InvalidRequest(
                "title applies to one file; stream-batch has no per-file title. Upload files "
                "one by one with put_file(..., title=...) or leave title out"
            )
        callback.set_size(len(entries))
        results: dict[int, UploadResult] = {}
        todo = list(entries)
        if options.skip_duplicates and todo:
            todo = await self._skip_duplicates(todo, results, callback)
        if todo:
            await self._check_quota(len(todo))
        limit = self.settings.stream_limit
        large = [e for e in todo if e.size > limit]
        small = [e for e in todo if e.size <= limit]
        await _together(
            self._send_batches(small, options, results, callback),
            self._send_presigned_batches(large, options, results, callback),
        )
        return [results[e.index] for e in entries]

    def processing_wait(self) -> ProcessingWait:
        """How this ``put`` waits for processing (the filesystem's poll settings)."""
        return ProcessingWait(
            self.api, self.retry, self.settings.poll_interval, self.settings.poll_timeout
        )

    async def _send_presigned_batches(
        self,
        entries: list[FileEntry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        """Large files in presigned batches of up to five, one batch at a time."""
        batch = PresignedBatch(
            self.api,
            self.retry,
            chunk_size=self.settings.chunk_size,
            wait=self.processing_wait() if self.settings.wait else None,
        )
        for start in range(0, len(entries), MAX_PRESIGNED_BATCH):
            group = entries[start : start + MAX_PRESIGNED_BATCH]
            done = await batch.run(group, options, callback)
            if done is None:  # no batch route: the single presigned route, file by file
                for entry in entries[start:]:
                    await self._send_large(entry, options, results, callback)
                return
            results.update(done)

    def _plan(self, pairs: Sequence[tuple[str, str]]) -> list[FileEntry]:
        """Every file checked (format, size) before anything is sent."""
        entries, problems, formats_only = [], [], True
        for index, (lpath, name) in enumerate(pairs):
            try:
                size = os.path.getsize(lpath)
                content_type = check_file(name, size, self.settings.max_file_size)
            except (InvalidRequest, OSError) as exc:
                problems.append(f"{lpath}: {exc}")
                formats_only = formats_only and isinstance(exc, UnsupportedFormat)
                continue
            entries.append(FileEntry(index, lpath, name, content_type, size))
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise (UnsupportedFormat if formats_only else InvalidRequest)(
                f"{len(problems)} of {len(pairs)} files cannot be uploaded, so nothing was: "
                + "; ".join(problems[:5])
                + more
            )
        return entries

    async def _skip_duplicates(
        self, entries: list[FileEntry], results: dict[int, UploadResult], callback: Callback
    ) -> list[FileEntry]:
        """Hash every file and ask the API which contents it already holds."""

        def digest(entry: FileEntry) -> str:
            source = FileSource(entry.lpath)
            try:
                return sha256_of(source, self.settings.chunk_size)
            finally:
                source.close()

        hashes = await asyncio.gather(*(asyncio.to_thread(digest, e) for e in entries))
        for entry, sha in zip(entries, hashes, strict=True):
            entry.sha256 = sha
        unique_hashes = sorted(set(hashes))
        duplicates: set[str] = set()
        for start in range(0, len(unique_hashes), MAX_HASHES_PER_CHECK):
            chunk = unique_hashes[start : start + MAX_HASHES_PER_CHECK]
            duplicates |= await self.retry.run(
                functools.partial(self.api.check_duplicates, chunk),
                what="checking for duplicates",
            )
        todo, seen = [], set()
        for entry in entries:
            if entry.sha256 in duplicates or entry.sha256 in seen:
                results[entry.index] = UploadResult(
                    entry.lpath, entry.name, "skipped", "check-duplicates", sha256=entry.sha256
                )
                callback.relative_update(1)
            else:
                seen.add(entry.sha256)
                todo.append(entry)
        return todo

    async def _check_quota(self, count: int) -> None:
        quota = await self.retry.run(
            lambda: self.api.quota_check(count), what=f"checking the quota for {count} files"
        )
        if not quota.get("can_proceed"):
            raise QuotaExceeded(
                f"the workspace cannot take {count} more uploads: "
                f"{quota.get('message') or 'quota exhausted'} (available: "
                f"{quota.get('available')}, monthly limit: {quota.get('monthly_limit')}); "
                "nothing was uploaded. Upload fewer files or raise the plan's quota"
            )

    async def _send_large(
        self,
        entry: FileEntry,
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        target = AionVisionTarget(
            self.api,
            entry.name,
            options=options,
            label=entry.lpath,
            stream_limit=self.settings.stream_limit,
            max_file_size=self.settings.max_file_size,
            sha256=entry.sha256,
            dedupe=False,  # asked already, for all the files at once
            chunk_size=self.settings.chunk_size,
        )
        source = FileSource(entry.lpath)
        try:
            result = UploadResult.from_completion(await self.uploader_for(target).upload(source))
        except AtaiFsError as exc:
            result = UploadResult(entry.lpath, entry.name, "failed", "presigned", error=str(exc))
        finally:
            source.close()
        results[entry.index] = result
        callback.relative_update(1)

    def _batches(self, entries: list[FileEntry]) -> list[list[FileEntry]]:
        """Consecutive groups within the batch's file count and byte budget."""
        batches: list[list[FileEntry]] = []
        current: list[FileEntry] = []
        size = 0
        for entry in entries:
            if current and (
                len(current) >= self.settings.stream_batch_size
                or size + entry.size > self.settings.max_batch_bytes
            ):
                batches.append(current)
                current, size = [], 0
            current.append(entry)
            size += entry.size
        if current:
            batches.append(current)
        return batches

    async def _send_batches(
        self,
        entries: list[FileEntry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        for batch in self._batches(entries):
            await self._send_batch(batch, options, results, callback)

    async def _send_batch(
        self,
        batch: list[FileEntry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        """One ``stream-batch`` request, its retryable rejections sent again, and its
        session followed to the end."""
        pending, rounds = batch, 0
        while pending:
            response = await self._post_batch(pending, options)
            session_id = str(response["session_id"])
            again, rejected = [], set()
            for rejection in response.get("rejections") or []:
                index = rejection.get("index") if isinstance(rejection, Mapping) else None
                if not isinstance(index, int) or not 0 <= index < len(pending):
                    continue
                rejected.add(index)
                entry = pending[index]
                if rejection.get("retryable") and rounds + 1 < (self.retry.attempts or _ROUNDS):
                    again.append(entry)
                else:
                    results[entry.index] = UploadResult(
                        entry.lpath,
                        entry.name,
                        "failed",
                        "stream-batch",
                        session_id=session_id,
                        sha256=entry.sha256,
                        error=f"rejected: {rejection.get('reason') or 'no reason given'}",
                    )
                    callback.relative_update(1)
            accepted = [e for i, e in enumerate(pending) if i not in rejected]
            if accepted:
                await self._follow_abandonable(session_id, accepted, options, results, callback)
            pending = again
            if pending:
                rounds += 1
                await self.retry.sleep(self.retry.backoff(rounds))

    async def _post_batch(
        self, entries: list[FileEntry], options: UploadOptions
    ) -> Mapping[str, Any]:
        skip = options.skip_duplicates

        async def attempt() -> Mapping[str, Any]:
            nonlocal skip
            sources = [FileSource(e.lpath) for e in entries]
            try:
                return await self.api.stream_batch(
                    [(e.name, e.content_type, s) for e, s in zip(entries, sources, strict=True)],
                    options.form_fields(skip_duplicates=skip, batch=True),
                    chunk_size=self.settings.chunk_size,
                )
            except AtaiFsError as exc:
                if exc.retryable and exc.status != 429:
                    skip = True  # the batch may have landed: do not store it twice
                raise
            finally:
                for source in sources:
                    source.close()

        return await self.retry.run(attempt, what=f"uploading a batch of {len(entries)} files")

    async def _follow_abandonable(
        self,
        session_id: str,
        entries: list[FileEntry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        """:meth:`_follow_session`, cancelling the session when the caller abandons it
        (an exception or an interrupt before it was followed to its end)."""
        followed = False
        try:
            await self._follow_session(session_id, entries, options, results, callback)
            followed = True
        finally:
            if not followed:
                await cancel_abandoned(self.api, session_id)

    async def _follow_session(
        self,
        session_id: str,
        entries: list[FileEntry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        """Poll the session until it ends (reporting progress), then read its results."""
        reported = 0
        finished = False
        clock, sleep = self.retry.clock, self.retry.sleep
        if self.settings.wait:
            deadline = clock() + self.settings.poll_timeout
            while True:
                status = await self.retry.run(
                    lambda: self.api.session_status(session_id), what="following an upload session"
                )
                done = sum(
                    int(status.get(k) or 0)
                    for k in ("completed_files", "failed_files", "skipped_files")
                )
                done = min(done, len(entries))
                if done > reported:
                    callback.relative_update(done - reported)
                    reported = done
                if status["status"] in _TERMINAL_SESSION:
                    finished = True
                    break
                if clock() + self.settings.poll_interval > deadline:
                    break
                await sleep(self.settings.poll_interval)
        by_name: dict[str, collections.deque[FileEntry]] = collections.defaultdict(
            collections.deque
        )
        for entry in entries:
            by_name[entry.name].append(entry)
        for item in await self._session_results(session_id):
            queue = by_name.get(str(item.get("filename")))
            if not queue:
                continue
            entry = queue.popleft()
            results[entry.index] = _batch_result(entry, item, session_id, options)
        for queue in by_name.values():
            for entry in queue:
                state = "still processing" if not finished else "no result reported"
                results[entry.index] = UploadResult(
                    entry.lpath,
                    entry.name,
                    "pending" if not finished else "failed",
                    "stream-batch",
                    session_id=session_id,
                    sha256=entry.sha256,
                    error=f"{state} in session {session_id}",
                )
        if len(entries) > reported:
            callback.relative_update(len(entries) - reported)

    async def _session_results(self, session_id: str) -> list[Mapping[str, Any]]:
        items: list[Mapping[str, Any]] = []
        offset = 0
        while True:
            page = await self.retry.run(
                functools.partial(
                    self.api.session_results, session_id, offset=offset, limit=_RESULTS_PAGE
                ),
                what="reading session results",
            )
            batch = [item for item in page["results"] if isinstance(item, Mapping)]
            items.extend(batch)
            offset += len(page["results"])
            if not page.get("has_more") or not page["results"]:
                return items


async def _together(*steps: Coroutine[Any, Any, None]) -> None:
    """Run ``steps`` at once; the first failure cancels the others (whose cleanup, e.g.
    cancelling their sessions, runs before this returns) and is the one raised."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _batch_result(
    entry: FileEntry, item: Mapping[str, Any], session_id: str, options: UploadOptions
) -> UploadResult:
    status = item.get("status")
    stored_as = str(item.get("skipped_existing_image_id") or item.get("image_id"))
    fields: dict[str, Any] = {
        "session_id": session_id,
        "sha256": entry.sha256,
        "response": dict(item),
    }
    if status == "failed":
        outcome = "failed"
        fields["error"] = str(item.get("error_message") or "failed without a reason")
    elif status == "skipped" and options.skip_duplicates:
        outcome = "skipped"
        fields["existing_image_id"] = stored_as
    else:
        # completed, or skipped only because a retried request found an earlier
        # attempt's bytes: either way the file is stored under this id
        outcome = "uploaded"
        fields["image_id"] = stored_as
        fields["object_key"] = item.get("object_key")
    return UploadResult(entry.lpath, entry.name, outcome, "stream-batch", **fields)


def raise_for_failures(results: Sequence[UploadResult]) -> None:
    """:class:`UploadFailed` naming the files that failed (the others were uploaded)."""
    failed = [r for r in results if r.status == "failed"]
    if failed:
        listed = "; ".join(f"{r.path}: {r.error}" for r in failed[:10])
        more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
        raise UploadFailed(
            f"{len(failed)} of {len(results)} files failed to upload: {listed}{more}. The "
            "others were uploaded or skipped; every file's result is in fs.last_results"
        )
