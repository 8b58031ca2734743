"""``aionvision://``: the Aionvision Uploads API as a write-only fsspec filesystem.

Each file takes the cheapest route the API offers for it:

* up to ``stream_limit`` (100 MB): ``POST /user-files/upload/stream``, one multipart
  request streamed from disk or the spool;
* larger (or when the stream endpoint refuses with 413/501): ``request-presigned-url``,
  one storage PUT with exactly the returned ``upload_headers``, then ``confirm`` with
  the size and checksum (through the engine, as a one-part upload);
* ``put`` of many files: one ``quota-check`` first (a clear error before anything is
  sent when the workspace cannot take them), optional ``check-duplicates``, then
  ``stream-batch`` requests of the tier's batch size whose sessions are followed until
  they finish; retryable rejections are sent again.

The API assigns ids, so a path only gives the file name sent (its last component); what
happened to each file is returned and kept in :attr:`AionVisionFileSystem.last_results`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback, NoOpCallback

from ..engine.ratelimit import RateLimit, RateLimiter
from ..engine.sources import BytesSource, FileSource, PartSource
from ..engine.uploader import Uploader
from ..errors import (
    AtaiFsError,
    FileTooLarge,
    InvalidRequest,
    NotFound,
    UploadFailed,
)
from ..http import Timeouts
from ..targets.aionvision import (
    DEFAULT_ENDPOINT,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_STREAM_LIMIT,
    MAX_HASHES_PER_CHECK,
    AionVisionApi,
    AionVisionPresignedTarget,
    QuotaExceeded,
    Tier,
    UnsupportedFormat,
    UploadOptions,
    UploadResult,
    content_type_for,
    file_name,
    sha256_of,
    tier_named,
    tier_rate_limit,
)
from .base import UploadFileSystem

__all__ = ["AionVisionFileSystem"]

log = logging.getLogger("atai_fs")

_CONTROL_CONNECTIONS = 4
_OPTION_NAMES = ("title", "tags", "auto_describe", "skip_duplicates", "storage_target", "intent")
_TERMINAL_SESSION = frozenset({"completed", "failed", "expired", "cancelled"})
_RESULTS_PAGE = 500


@dataclass
class _Entry:
    """One file of a ``put``: where it comes from and what it is sent as."""

    index: int
    lpath: str
    name: str
    content_type: str
    size: int
    sha256: str | None = None


class AionVisionFileSystem(UploadFileSystem):
    """fsspec filesystem writing into Aionvision (protocol ``aionvision``).

    ``aionvision://dir/photo.jpg`` uploads a file named ``photo.jpg``; the API assigns
    its id and storage key.  Files can be written, not read back or listed.

    Parameters
    ----------
    api_key:
        Workspace API key (``aion_...``); defaults to ``AIONVISION_API_KEY``.  Sent only
        to ``endpoint_url``, never to storage URLs.
    endpoint_url:
        API base URL; defaults to ``AIONVISION_API_ENDPOINT``, then the public service.
    tier:
        Subscription tier (``free``, ``starter``, ``professional``, ``enterprise``, or a
        :class:`~atai_fs.targets.aionvision.Tier`): sets the files per ``stream-batch``
        request and the pace of requests (its requests per minute).
    stream_batch_size:
        Files per ``stream-batch`` request (default: the tier's batch size).
    max_batch_bytes:
        Bytes per ``stream-batch`` request (default: ``stream_limit``).
    stream_limit:
        Largest file sent through the stream endpoint; larger files go presigned.
    max_file_size:
        Largest file accepted at all (5 GiB, one storage PUT); refused before upload.
    rate_limit:
        Pacing of API calls: a :class:`~atai_fs.engine.ratelimit.RateLimit`, a dict, a
        string such as ``"100/min"``, or ``"off"``; defaults to env
        ``AIONVISION_RATE_LIMIT``, then the tier's requests per minute.
    wait, poll_interval, poll_timeout:
        Whether ``put`` follows each batch's session until it finishes, how often it
        asks, and for how long at most.
    title, tags, auto_describe, skip_duplicates, storage_target, intent:
        Default upload options; every write call also takes them as keywords.
    **kwargs:
        Engine options of :class:`~atai_fs.fs.base.UploadFileSystem` (``retry``,
        ``spool_threshold``, ``chunk_size``, ...) and fsspec's own.
    """

    protocol = ("aionvision",)
    environment_variables = (
        "AIONVISION_API_KEY",
        "AIONVISION_API_ENDPOINT",
        "AIONVISION_RATE_LIMIT",
    )
    service_name = "Aionvision"
    api_key_variable = "AIONVISION_API_KEY"
    endpoint_variable = "AIONVISION_API_ENDPOINT"
    rate_limit_variable = "AIONVISION_RATE_LIMIT"
    default_endpoint = DEFAULT_ENDPOINT
    root_marker = ""

    def __init__(
        self,
        api_key: str | None = None,
        endpoint_url: str | None = None,
        max_concurrency: int = 8,
        *,
        tier: str | Tier = "free",
        stream_batch_size: int | None = None,
        max_batch_bytes: int | None = None,
        stream_limit: int = DEFAULT_STREAM_LIMIT,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        rate_limit: RateLimit | dict[str, Any] | str | bool | None = None,
        wait: bool = True,
        poll_interval: float = 1.0,
        poll_timeout: float = 600.0,
        allow_http: bool = False,
        verify_tls: bool = True,
        timeouts: Timeouts | None = None,
        title: str | None = None,
        tags: Sequence[str] | str | None = None,
        auto_describe: bool = True,
        skip_duplicates: bool = False,
        storage_target: str = "default",
        intent: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(max_concurrency=max_concurrency, **kwargs)
        self.tier = tier_named(tier)
        self.stream_batch_size = int(stream_batch_size or self.tier.batch_size)
        self.stream_limit = int(stream_limit)
        self.max_batch_bytes = int(max_batch_bytes or self.stream_limit)
        self.max_file_size = int(max_file_size)
        if self.stream_batch_size < 1 or self.stream_limit < 1 or self.max_batch_bytes < 1:
            raise InvalidRequest(
                "stream_batch_size, stream_limit and max_batch_bytes must be positive"
            )
        self.wait = bool(wait)
        self.poll_interval = float(poll_interval)
        self.poll_timeout = float(poll_timeout)
        self.options = UploadOptions.build(
            title=title,
            tags=tags,
            auto_describe=auto_describe,
            skip_duplicates=skip_duplicates,
            storage_target=storage_target,
            intent=intent,
        )
        self._connect(
            api_key=api_key,
            endpoint_url=endpoint_url,
            allow_http=allow_http,
            verify_tls=verify_tls,
            timeouts=timeouts,
        )
        self.rate_limiter = RateLimiter(self._rate_limit(rate_limit, tier_rate_limit(self.tier)))
        self.api = AionVisionApi(self.http, self.rate_limiter)
        #: What happened to each file of the last write call (``put``, ``put_file``,
        #: ``pipe_file``, a closed file), in fsspec's order of the files (sorted paths
        #: for globs and directories).
        self.last_results: list[UploadResult] = []

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return (
            f"AionVisionFileSystem(endpoint_url={self.endpoint_url!r}, tier={self.tier.name!r}, "
            f"api_key=<{key}>)"
        )

    def _options(self, kwargs: Mapping[str, Any]) -> UploadOptions:
        return self.options.merged(**{k: kwargs[k] for k in _OPTION_NAMES if k in kwargs})

    async def _retry(self, operation: Any, what: str) -> Any:
        return await self.transfer.retry.run(operation, what=what)

    # -- targets (open(..., "wb") and the presigned route) -----------------------------

    def _make_target(self, path: str, **kwargs: Any) -> AionVisionPresignedTarget:
        return self._target(path, self._options(kwargs))

    def _target(self, path: str, options: UploadOptions) -> AionVisionPresignedTarget:
        self._require_key()
        return AionVisionPresignedTarget(
            self.api, path, options=options, max_file_size=self.max_file_size
        )

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        size: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """Writes always spool: the route (stream or presigned) is chosen by the final
        size at close, and nothing is sent before (an exception in ``with`` sends nothing)."""
        return super()._open(path, mode, block_size, autocommit, cache_options, size=None, **kwargs)

    async def _upload_whole(self, uploader: Uploader, source: PartSource) -> UploadResult:
        target = uploader.target
        assert isinstance(target, AionVisionPresignedTarget)
        result = await self._upload_one(
            target.description, target.name, source, target.options, uploader=uploader
        )
        self.last_results = [result]
        return result

    # -- one file --------------------------------------------------------------------------

    async def _put_file(
        self,
        lpath: str,
        rpath: str,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        _collect: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> UploadResult | None:
        """Upload one local file (streamed from disk, never read whole into memory)."""
        if _collect is not None:  # planning a put of many files: see _put
            _collect.append((lpath, rpath))
            return None
        path = self._write_name(rpath)
        options = self._options(kwargs)
        self._require_key()
        source = FileSource(lpath)
        try:
            result = await self._upload_one(
                lpath, file_name(path), source, options, callback=callback, label_path=path
            )
        finally:
            source.close()
        self.last_results = [result]
        return result

    async def _pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> UploadResult:
        """Upload bytes held in memory (no copy)."""
        name = self._write_name(path)
        options = self._options(kwargs)
        self._require_key()
        result = await self._upload_one(
            f"aionvision://{name}", file_name(name), BytesSource(value), options, label_path=name
        )
        self.last_results = [result]
        return result

    def _check_file(self, name: str, size: int) -> str:
        """The file's MIME type, or a clear refusal (format, empty, too large)."""
        content_type = content_type_for(name)
        if size <= 0:
            raise InvalidRequest(f"{name!r} is empty; Aionvision takes files of at least 1 byte")
        if size > self.max_file_size:
            raise FileTooLarge(
                f"{name!r} is {size} bytes, over the limit of {self.max_file_size} bytes "
                "(max_file_size); nothing was uploaded"
            )
        return content_type

    async def _upload_one(
        self,
        label: str,
        name: str,
        source: PartSource,
        options: UploadOptions,
        *,
        callback: Callback | None = None,
        uploader: Uploader | None = None,
        label_path: str | None = None,
    ) -> UploadResult:
        """Upload one file by the route its size calls for (see the module docstring)."""
        content_type = self._check_file(name, source.size)
        sha256 = None
        if options.skip_duplicates:
            sha256 = await asyncio.to_thread(sha256_of, source, self.transfer.chunk_size)
            duplicates = await self._retry(
                lambda: self.api.check_duplicates([sha256]), f"checking {name!r} for duplicates"
            )
            if sha256 in duplicates:
                return UploadResult(label, name, "skipped", "check-duplicates", sha256=sha256)
        if source.size <= self.stream_limit:
            try:
                return await self._stream_one(
                    label, name, content_type, source, options, callback, sha256
                )
            except AtaiFsError as exc:
                if not (isinstance(exc, FileTooLarge) or exc.status == 501):
                    raise
                log.info("%s: the stream endpoint refused it (%s); uploading presigned", name, exc)
        if uploader is None:
            uploader = self._uploader(self._target(label_path or name, options), callback=callback)
        target = uploader.target
        assert isinstance(target, AionVisionPresignedTarget)
        await uploader.upload(source)
        confirmed = target.confirmed or {}  # also set when a lost confirm answer was recovered
        return UploadResult(
            label,
            name,
            "uploaded",
            "presigned",
            image_id=str(confirmed.get("upload_id")),
            object_key=str(confirmed.get("object_key")),
            sha256=sha256,
            response=dict(confirmed),
        )

    async def _stream_one(
        self,
        label: str,
        name: str,
        content_type: str,
        source: PartSource,
        options: UploadOptions,
        callback: Callback | None,
        sha256: str | None,
    ) -> UploadResult:
        """``upload/stream`` with retries; a retry after an error that may have landed the
        file (transport error, 5xx) asks the server to skip duplicates, so it is not
        stored twice."""
        skip = options.skip_duplicates

        async def attempt() -> Mapping[str, Any]:
            nonlocal skip
            try:
                return await self.api.stream_upload(
                    name,
                    content_type,
                    source,
                    options.form_fields(skip_duplicates=skip),
                    chunk_size=self.transfer.chunk_size,
                )
            except AtaiFsError as exc:
                if exc.retryable and exc.status != 429:
                    skip = True
                raise

        if callback is not None:
            callback.set_size(source.size)
        data = await self._retry(attempt, f"uploading {name!r}")
        if callback is not None:
            callback.relative_update(source.size)
        skipped = bool(data.get("skipped")) or data.get("status") == "skipped"
        existing = data.get("skipped_existing_image_id") or data.get("image_id")
        if skipped and options.skip_duplicates:
            return UploadResult(
                label,
                name,
                "skipped",
                "stream",
                existing_image_id=str(existing),
                sha256=sha256,
                response=dict(data),
            )
        # Not skipped, or skipped only because a retried attempt found the bytes an
        # earlier attempt had stored: either way the file is stored under this id.
        return UploadResult(
            label,
            name,
            "uploaded",
            "stream",
            image_id=str(existing if skipped else data["image_id"]),
            object_key=data.get("object_key"),
            sha256=sha256,
            response=dict(data),
        )

    # -- many files --------------------------------------------------------------------------

    async def _put(
        self,
        lpath: Any,
        rpath: Any,
        recursive: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
        batch_size: int | None = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> list[UploadResult]:
        """Upload local files: quota check, optional dedupe, then ``stream-batch``
        requests of ``stream_batch_size`` files (presigned uploads for large files).

        Returns one :class:`UploadResult` per file (also in :attr:`last_results`);
        raises :class:`UploadFailed` naming the files that failed, after the others
        were uploaded.  Duplicates skipped are not failures.
        """
        pairs: list[tuple[str, str]] = []
        # fsspec's own expansion of globs, directories and targets, without uploading.
        await super()._put(
            lpath,
            rpath,
            recursive=recursive,
            callback=NoOpCallback(),
            batch_size=batch_size,
            maxdepth=maxdepth,
            _collect=pairs,
        )
        return await self._put_many(pairs, self._options(kwargs), callback)

    async def _put_many(
        self, pairs: list[tuple[str, str]], options: UploadOptions, callback: Callback
    ) -> list[UploadResult]:
        self._require_key()
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
        large = [e for e in todo if e.size > self.stream_limit]
        small = [e for e in todo if e.size <= self.stream_limit]
        await asyncio.gather(
            self._send_batches(small, options, results, callback),
            *(self._send_large(e, options, results, callback) for e in large),
        )
        ordered = [results[e.index] for e in entries]
        self.last_results = ordered
        failed = [r for r in ordered if r.status == "failed"]
        if failed:
            listed = "; ".join(f"{r.path}: {r.error}" for r in failed[:10])
            more = f" (and {len(failed) - 10} more)" if len(failed) > 10 else ""
            raise UploadFailed(
                f"{len(failed)} of {len(ordered)} files failed to upload: {listed}{more}. The "
                "others were uploaded or skipped; every file's result is in fs.last_results"
            )
        return ordered

    def _plan(self, pairs: list[tuple[str, str]]) -> list[_Entry]:
        """Every file checked (format, size) before anything is sent."""
        entries, problems, formats_only = [], [], True
        for index, (lpath, rpath) in enumerate(pairs):
            name = file_name(self._strip_protocol(rpath))
            try:
                size = os.path.getsize(lpath)
                content_type = self._check_file(name, size)
            except (InvalidRequest, OSError) as exc:
                problems.append(f"{lpath}: {exc}")
                formats_only = formats_only and isinstance(exc, UnsupportedFormat)
                continue
            entries.append(_Entry(index, lpath, name, content_type, size))
        if problems:
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise (UnsupportedFormat if formats_only else InvalidRequest)(
                f"{len(problems)} of {len(pairs)} files cannot be uploaded, so nothing was: "
                + "; ".join(problems[:5])
                + more
            )
        return entries

    async def _skip_duplicates(
        self, entries: list[_Entry], results: dict[int, UploadResult], callback: Callback
    ) -> list[_Entry]:
        """Hash every file and ask the API which contents it already holds."""

        def digest(entry: _Entry) -> str:
            source = FileSource(entry.lpath)
            try:
                return sha256_of(source, self.transfer.chunk_size)
            finally:
                source.close()

        hashes = await asyncio.gather(*(asyncio.to_thread(digest, e) for e in entries))
        for entry, sha in zip(entries, hashes, strict=True):
            entry.sha256 = sha
        unique_hashes = sorted(set(hashes))
        duplicates: set[str] = set()
        for start in range(0, len(unique_hashes), MAX_HASHES_PER_CHECK):
            chunk = unique_hashes[start : start + MAX_HASHES_PER_CHECK]
            duplicates |= await self._retry(
                lambda chunk=chunk: self.api.check_duplicates(chunk), "checking for duplicates"
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
        quota = await self._retry(
            lambda: self.api.quota_check(count), f"checking the quota for {count} files"
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
        entry: _Entry,
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        source = FileSource(entry.lpath)
        try:
            uploader = self._uploader(self._target(entry.name, options))
            result = await self._upload_one(
                entry.lpath, entry.name, source, options, uploader=uploader
            )
        except AtaiFsError as exc:
            result = UploadResult(entry.lpath, entry.name, "failed", "presigned", error=str(exc))
        finally:
            source.close()
        results[entry.index] = result
        callback.relative_update(1)

    def _batches(self, entries: list[_Entry]) -> list[list[_Entry]]:
        """Consecutive groups within the batch's file count and byte budget."""
        batches: list[list[_Entry]] = []
        current: list[_Entry] = []
        size = 0
        for entry in entries:
            if current and (
                len(current) >= self.stream_batch_size or size + entry.size > self.max_batch_bytes
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
        entries: list[_Entry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        for batch in self._batches(entries):
            await self._send_batch(batch, options, results, callback)

    async def _send_batch(
        self,
        batch: list[_Entry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        """One ``stream-batch`` request, its retryable rejections sent again, and its
        session followed to the end."""
        pending, rounds = batch, 0
        policy = self.transfer.retry
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
                if rejection.get("retryable") and rounds + 1 < policy.attempts:
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
                await self._follow_session(session_id, accepted, options, results, callback)
            pending = again
            if pending:
                rounds += 1
                await asyncio.sleep(policy.backoff(rounds))

    async def _post_batch(self, entries: list[_Entry], options: UploadOptions) -> Any:
        skip = options.skip_duplicates

        async def attempt() -> Mapping[str, Any]:
            nonlocal skip
            sources = [FileSource(e.lpath) for e in entries]
            try:
                return await self.api.stream_batch(
                    [(e.name, e.content_type, s) for e, s in zip(entries, sources, strict=True)],
                    options.form_fields(skip_duplicates=skip, batch=True),
                    chunk_size=self.transfer.chunk_size,
                )
            except AtaiFsError as exc:
                if exc.retryable and exc.status != 429:
                    skip = True  # the batch may have landed: do not store it twice
                raise
            finally:
                for source in sources:
                    source.close()

        return await self._retry(attempt, f"uploading a batch of {len(entries)} files")

    async def _follow_session(
        self,
        session_id: str,
        entries: list[_Entry],
        options: UploadOptions,
        results: dict[int, UploadResult],
        callback: Callback,
    ) -> None:
        """Poll the session until it ends (reporting progress), then read its results."""
        reported = 0
        finished = False
        if self.wait:
            deadline = time.monotonic() + self.poll_timeout
            while True:
                status = await self._retry(
                    lambda: self.api.session_status(session_id), "following an upload session"
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
                if time.monotonic() + self.poll_interval > deadline:
                    break
                await asyncio.sleep(self.poll_interval)
        by_name: dict[str, collections.deque[_Entry]] = collections.defaultdict(collections.deque)
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
            page = await self._retry(
                lambda offset=offset: self.api.session_results(
                    session_id, offset=offset, limit=_RESULTS_PAGE
                ),
                "reading session results",
            )
            batch = [item for item in page["results"] if isinstance(item, Mapping)]
            items.extend(batch)
            offset += len(page["results"])
            if not page.get("has_more") or not page["results"]:
                return items

    # -- no read side ----------------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        name = self._strip_protocol(path)
        if name == self.root_marker:
            return {"name": name, "size": 0, "type": "directory"}
        raise NotFound(
            f"aionvision://{name}: the Uploads API cannot look files up by path (it assigns "
            "ids); use the ids in fs.last_results",
            status=None,
        )

    async def _isdir(self, path: str) -> bool:
        return self._strip_protocol(path) == self.root_marker


def _batch_result(
    entry: _Entry, item: Mapping[str, Any], session_id: str, options: UploadOptions
) -> UploadResult:
    status = item.get("status")
    image_id = item.get("image_id")
    common = {"session_id": session_id, "sha256": entry.sha256, "response": dict(item)}
    if status == "failed":
        return UploadResult(
            entry.lpath,
            entry.name,
            "failed",
            "stream-batch",
            error=str(item.get("error_message") or "failed without a reason"),
            **common,
        )
    if status == "skipped" and options.skip_duplicates:
        return UploadResult(
            entry.lpath,
            entry.name,
            "skipped",
            "stream-batch",
            existing_image_id=str(item.get("skipped_existing_image_id") or image_id),
            **common,
        )
    # completed, or skipped only because a retried request found an earlier attempt's bytes
    return UploadResult(
        entry.lpath,
        entry.name,
        "uploaded",
        "stream-batch",
        image_id=str(item.get("skipped_existing_image_id") or image_id),
        object_key=item.get("object_key"),
        **common,
    )
