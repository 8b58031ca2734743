"""``aionvision://``: the Aionvision Uploads API as a write-only fsspec filesystem.

Each file takes the cheapest route the API offers for it (see
:mod:`atai_fs.targets.aionvision.target`): one ``upload/stream`` request up to
``stream_limit`` (100 MB), otherwise a presigned storage PUT and ``confirm``.  ``put`` of
many files goes through the batch coordinator (:mod:`atai_fs.targets.aionvision.batch`):
one ``quota-check`` first, optional ``check-duplicates``, then ``stream-batch`` requests
of the tier's batch size whose sessions are followed until they finish.

Large files of a ``put`` go up in presigned batches of up to five (``batch-prepare``,
PUTs following the batch's ``upload_plan``, ``batch-confirm``).  A session or batch
abandoned by an exception or Ctrl-C is cancelled.

The API assigns ids, so a path only gives the file name sent (its last component); what
happened to each file is returned and kept in :attr:`AionVisionFileSystem.last_results`.
The names this filesystem uploaded can be looked up: ``info`` answers their processing
status, ``wait`` (or ``wait=True`` on a write) waits until they are processed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback, NoOpCallback

from ..engine.config import parse_flag, parse_size
from ..engine.ratelimit import RateLimit
from ..engine.sources import FileSource
from ..engine.target import Completion, UploadTarget
from ..errors import NotFound, UnsupportedFormat
from ..targets.aionvision import (
    DEFAULT_ENDPOINT,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_STREAM_LIMIT,
    AionVisionApi,
    AionVisionTarget,
    BatchSettings,
    BatchUploads,
    ProcessingWait,
    Tier,
    UploadOptions,
    UploadResult,
    file_name,
    raise_for_failures,
    tier_named,
    tier_rate_limit,
)
from ..targets.aionvision.processing import is_terminal
from .base import UploadFileSystem, Write, checked_options
from .blocking import interruptible
from .progress_bar import TransferBar

__all__ = ["AionVisionFileSystem"]


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
        Whether ``put`` follows each batch's session until it finishes (``put(...,
        wait=...)`` per call), how often it asks, and for how long at most; also the
        pace and the default timeout of :meth:`wait`.
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
    # Its put_file and pipe_file return the stored file's ids, which exist only once it
    # is uploaded: inside a transaction they publish at once (opened files still wait).
    defers_in_transactions = False
    uploads_in_batches = True

    def __init__(
        self,
        api_key: str | None = None,
        endpoint_url: str | None = None,
        max_concurrency: int | None = None,
        *,
        tier: str | Tier = "free",
        stream_batch_size: int | None = None,
        max_batch_bytes: int | None = None,
        stream_limit: int = DEFAULT_STREAM_LIMIT,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        wait: bool = True,
        poll_interval: float = 1.0,
        poll_timeout: float = 600.0,
        title: str | None = None,
        tags: Sequence[str] | str | None = None,
        auto_describe: bool = True,
        skip_duplicates: bool = False,
        storage_target: str = "default",
        intent: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.tier = tier_named(tier)  # before the base, whose default pace is the tier's
        super().__init__(
            api_key=api_key, endpoint_url=endpoint_url, max_concurrency=max_concurrency, **kwargs
        )
        limit = parse_size(stream_limit, "stream_limit")
        self.batch = BatchSettings(
            stream_limit=limit,
            stream_batch_size=parse_size(
                stream_batch_size or self.tier.batch_size, "stream_batch_size"
            ),
            max_batch_bytes=parse_size(max_batch_bytes or limit, "max_batch_bytes"),
            max_file_size=parse_size(max_file_size, "max_file_size"),
            wait=parse_flag(wait, "wait"),
            poll_interval=float(poll_interval),
            poll_timeout=float(poll_timeout),
            chunk_size=self.transfer.chunk_size,
        )
        self.options = UploadOptions.build(
            title=title,
            tags=tags,
            auto_describe=parse_flag(auto_describe, "auto_describe"),
            skip_duplicates=parse_flag(skip_duplicates, "skip_duplicates"),
            storage_target=storage_target,
            intent=intent,
        )
        self.api = AionVisionApi(self.http, self.rate_limiter, require_key=self._require_key)
        #: What happened to each file of the last write call (``put``, ``put_file``,
        #: ``pipe_file``, a closed file), in fsspec's order of the files (sorted paths
        #: for globs and directories).
        self.last_results: list[UploadResult] = []
        #: Names this filesystem uploaded -> (image_id, size in bytes if known): what
        #: ``info`` and ``wait`` can look up.
        self._stored: dict[str, tuple[str, int | None]] = {}

    @property
    def stream_batch_size(self) -> int:
        """Files per ``stream-batch`` request."""
        return self.batch.stream_batch_size

    def default_rate_limit(self) -> RateLimit:
        """The tier's requests per minute."""
        return tier_rate_limit(self.tier)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return (
            f"AionVisionFileSystem(endpoint_url={self.endpoint_url!r}, tier={self.tier.name!r}, "
            f"api_key=<{key}>)"
        )

    # -- targets -------------------------------------------------------------------------

    def _make_target(
        self, path: str, *, label: str | None = None, **options: Any
    ) -> AionVisionTarget:
        """The target of one file; ``label`` is the path shown in its result (the local
        file's, for ``put_file``), ``options`` the upload options of this call."""
        self._require_key()
        return AionVisionTarget(
            self.api,
            path,
            options=self._upload_options(**options),
            label=label,
            stream_limit=self.batch.stream_limit,
            max_file_size=self.batch.max_file_size,
            chunk_size=self.transfer.chunk_size,
        )

    def _write_target(self, write: Write) -> UploadTarget:
        if write.compression:
            raise UnsupportedFormat(
                f"{write.name!r} would be sent {write.compression}-compressed; Aionvision "
                "takes its formats uncompressed only: write without compression="
            )
        return super()._write_target(write)

    def _target(self, name: str, options: dict[str, Any]) -> AionVisionTarget:
        return self._make_target(name, **checked_options(self._upload_options, options))

    def _upload_options(
        self,
        *,
        title: str | None = None,
        tags: Sequence[str] | str | None = None,
        auto_describe: bool | None = None,
        skip_duplicates: bool | None = None,
        storage_target: str | None = None,
        intent: str | None = None,
    ) -> UploadOptions:
        """Per-call upload options over the filesystem's."""
        return self.options.merged(
            title=title,
            tags=tags,
            auto_describe=None
            if auto_describe is None
            else parse_flag(auto_describe, "auto_describe"),
            skip_duplicates=None
            if skip_duplicates is None
            else parse_flag(skip_duplicates, "skip_duplicates"),
            storage_target=storage_target,
            intent=intent,
        )

    def _published(self, name: str, result: Completion, size: int | None = None) -> None:
        self.last_results = [UploadResult.from_completion(result)]
        self._remember(name, self.last_results[0], size)

    def _remember(self, name: str, result: UploadResult, size: int | None) -> None:
        image_id = result.image_id or result.existing_image_id
        if result.status != "failed" and image_id:
            self._stored[name] = (image_id, size)

    def _processing_wait(self, timeout: float | None = None) -> ProcessingWait:
        timeout = self.batch.poll_timeout if timeout is None else float(timeout)
        return ProcessingWait(self.api, self.retry, self.batch.poll_interval, timeout)

    # -- writing ---------------------------------------------------------------------------

    async def _put_file(  # type: ignore[override]
        self,
        lpath: str,
        rpath: str,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        _collect: list[tuple[str, str]] | None = None,
        wait: bool = False,
        **options: Any,
    ) -> UploadResult | None:
        """Upload one local file (streamed from disk, never read whole into memory);
        ``wait=True`` also waits until Aionvision has processed it (see :meth:`wait`)."""
        if _collect is not None:  # planning a put of many files: see _put
            _collect.append((lpath, rpath))
            return None
        name = self._write_name(rpath)
        target = self._make_target(
            name, label=lpath, **checked_options(self._upload_options, options)
        )
        source = FileSource(lpath)
        try:
            completion = await self._uploader(target, callback=callback).upload(source)
        finally:
            source.close()
        self._published(name, completion, source.size)
        result = self.last_results[0]
        if parse_flag(wait, "wait") and result.status == "uploaded":
            await self._wait(name)
        return result

    async def _pipe_file(  # type: ignore[override]
        self,
        path: str,
        value: bytes,
        mode: str = "overwrite",
        callback: Callback = DEFAULT_CALLBACK,
        wait: bool = False,
        **options: Any,
    ) -> UploadResult:
        """Upload bytes held in memory (no copy); ``wait=True`` also waits until
        Aionvision has processed them (see :meth:`wait`)."""
        await super()._pipe_file(path, value, mode=mode, callback=callback, **options)
        result = self.last_results[0]
        name = self._strip_protocol(path)
        if name in self._stored:
            self._stored[name] = (self._stored[name][0], len(value))
        if parse_flag(wait, "wait") and result.status == "uploaded":
            await self._wait(name)
        return result

    async def _put(
        self, lpath: Any, rpath: Any, recursive: bool = False, **kwargs: Any
    ) -> list[UploadResult]:
        """Upload local files: quota check, optional dedupe, then ``stream-batch``
        requests of ``stream_batch_size`` files (presigned uploads for large files).

        Returns one :class:`UploadResult` per file (also in :attr:`last_results`);
        raises :class:`~atai_fs.errors.UploadFailed` naming the files that failed, after
        the others were uploaded.  Duplicates skipped are not failures.  ``wait``
        overrides the filesystem's: whether each batch is followed until its files are
        processed (their processing failures are then failures too).
        """
        callback = kwargs.pop("callback", DEFAULT_CALLBACK)
        maxdepth = kwargs.pop("maxdepth", None)
        kwargs.pop("batch_size", None)
        wait = kwargs.pop("wait", None)
        settings = self.batch
        if wait is not None:
            settings = dataclasses.replace(settings, wait=parse_flag(wait, "wait"))
        upload_options = self._upload_options(**checked_options(self._upload_options, kwargs))
        pairs: list[tuple[str, str]] = []
        # fsspec's own expansion of globs, directories and targets, without uploading.
        await super()._put(
            lpath, rpath, recursive, callback=NoOpCallback(), maxdepth=maxdepth, _collect=pairs
        )
        named = [(local, file_name(self._strip_protocol(remote))) for local, remote in pairs]
        files_bar = None
        if self.progress and isinstance(callback, NoOpCallback):  # files, not bytes
            label = f"aionvision:// {len(named)} files"
            callback = files_bar = TransferBar(label, unit="file", unit_scale=False)
        try:
            results = await self._batch_uploads(settings).run(named, upload_options, callback)
        finally:
            if files_bar is not None:
                files_bar.close()
        self.last_results = results
        for (local, remote), result in zip(pairs, results, strict=True):
            self._remember(self._strip_protocol(remote), result, _size_of(local))
        raise_for_failures(results)
        return results

    def _batch_uploads(self, settings: BatchSettings | None = None) -> BatchUploads:
        return BatchUploads(self.api, settings or self.batch, self.retry, self._uploader)

    # -- processing status -------------------------------------------------------------------

    async def _wait(
        self, path: str | Sequence[str], timeout: float | None = None
    ) -> dict[str, Mapping[str, Any]]:
        """Wait until Aionvision has processed the files this filesystem uploaded under
        ``path`` (one name or a list), polling ``GET /uploads/status/{image_id}`` every
        ``poll_interval`` seconds.

        Parameters
        ----------
        path:
            ``aionvision://NAME`` (or a list of them) as written by this filesystem.
        timeout:
            Seconds to wait at most (default: ``poll_timeout``).

        Returns
        -------
        Each name's final status answer (``unified_status``, ``completed_at``, ...).

        Raises
        ------
        ProcessingFailed
            A file's processing failed or is stuck (every file is looked at first).
        ProcessingTimeout
            Still processing when ``timeout`` ran out (a ``TimeoutError``).
        NotFound
            A name this filesystem did not upload.
        """
        names = [path] if isinstance(path, str) else list(path)
        images = [(f"aionvision://{name}", self._image_of(name)[0]) for name in names]
        final = await self._processing_wait(timeout).until_processed(images)
        return {name: final[image_id] for name, (_, image_id) in zip(names, images, strict=True)}

    wait = interruptible("_wait")

    def _image_of(self, path: str) -> tuple[str, int | None]:
        name = self._strip_protocol(path)
        known = self._stored.get(name)
        if known is None:
            raise NotFound(
                f"aionvision://{name}: not uploaded by this filesystem; the Uploads API "
                "cannot look files up by path (it assigns ids): use the ids in "
                "fs.last_results",
                status=None,
            )
        return known

    # -- no read side ----------------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """A file this filesystem uploaded, with its processing status now
        (``status``: ``uploading`` ... ``processing``, ``completed`` or ``failed``;
        ``is_stuck``, ``error_message``); other names are not found."""
        name = self._strip_protocol(path)
        if name == self.root_marker:
            return {"name": name, "size": 0, "type": "directory"}
        image_id, size = self._image_of(name)
        status = await self._processing_wait().status(image_id)
        return {
            "name": name,
            "size": size,
            "type": "file",
            "image_id": image_id,
            "status": status.get("unified_status"),
            "is_stuck": status.get("is_stuck") is True,
            "is_terminal": is_terminal(status),
            "error_message": status.get("error_message"),
            "batch_id": status.get("batch_id"),
            "processing": dict(status),
        }

    async def _isdir(self, path: str) -> bool:
        return bool(self._strip_protocol(path) == self.root_marker)


def _size_of(local: str) -> int | None:
    try:
        return os.path.getsize(local)
    except OSError:
        return None
