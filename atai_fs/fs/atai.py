"""``atai://``: the Archetype AI Files API as an fsspec filesystem."""

from __future__ import annotations

import errno
import functools
import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from fsspec.asyn import _run_coros_in_chunks, sync_wrapper
from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from ..engine.config import parse_size
from ..engine.ratelimit import RateLimit
from ..engine.sources import SpoolSource
from ..errors import ConfigurationError, NotFound, UrlExpired
from ..http import HttpResponse
from ..targets.atai import DEFAULT_ENDPOINT, AtaiApi, AtaiUploadTarget
from ..targets.presigned import is_expired_url
from .base import UploadFileSystem
from .listing import build_tree, directory_entry
from .read_file import RangeReadFile, WholeBody

__all__ = ["ATAIFileSystem"]

#: What :meth:`ATAIFileSystem.modified` answers: the API records no timestamps.
_NO_TIMESTAMP = datetime(1970, 1, 1, tzinfo=timezone.utc)

#: Metadata records per listing request; the API allows up to 1000.
DEFAULT_LIST_PAGE_SIZE = 1000

_STATUS_EXPLANATIONS = {
    "FILE_STATUS_CORRUPT": "the file is corrupt (its checksum did not match at upload)",
    "FILE_STATUS_REGISTERED": "the file is still being processed after its upload",
    "FILE_STATUS_INGESTING": "the file is still being ingested",
    "FILE_STATUS_UNKNOWN": "the file's status is unknown to the service",
}


def _file_entry(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """An fsspec info dict from a Files API metadata object (every API field kept)."""
    entry: dict[str, Any] = {
        "name": metadata["file_id"],
        "size": int(metadata.get("num_bytes") or 0),
        "type": "file",
    }
    entry.update((k, v) for k, v in metadata.items() if k not in ("file_id", "num_bytes"))
    return entry


class _RestartableProgress:
    """Byte progress of a transfer that a retry restarts from the beginning: only bytes
    beyond the furthest point reached are reported, so no byte is counted twice."""

    def __init__(self, callback: Callback) -> None:
        self.callback = callback
        self._reported = 0

    def reached(self, position: int) -> None:
        if position > self._reported:
            self.callback.relative_update(position - self._reported)
            self._reported = position


class ATAIFileSystem(UploadFileSystem):
    """fsspec filesystem for the Archetype AI Files API (protocol ``atai``).

    ``atai://NAME`` is the API file named ``NAME``; names may contain ``/``, which
    fsspec shows as pseudo-directories, as object stores do.

    Parameters
    ----------
    api_key:
        The organisation's API key; defaults to the ``ATAI_API_KEY`` environment
        variable.  Sent only to ``endpoint_url``'s host, never to storage URLs.
    endpoint_url:
        API base URL; defaults to ``ATAI_API_ENDPOINT``, then to the public service.
    max_concurrency:
        The most part PUTs in flight at once across all uploads of this filesystem
        (default 80, or the ``transfer`` config's); the adaptive controller finds the
        level below it that fills the path, from ``initial_concurrency`` (32).
    single_request_limit:
        Files up to this size whose type ``POST /files`` accepts (CSV, JSON, text, JPEG,
        PNG, MP4) go up in one request instead of initiate + parts + complete: one API
        call instead of two or more, which matters under the API's rate limit.  0 turns
        it off.
    rate_limit:
        Pace of control-plane calls shared by all uploads of this filesystem: a
        :class:`~atai_fs.engine.ratelimit.RateLimit`, a dict of its fields, a string such
        as ``"20/s,100/min"``, or ``"off"``/``False``; defaults to env ``ATAI_RATE_LIMIT``,
        then both documented limits (bursts of 20 a second, 100 a minute), shared by the
        processes of this machine (``share_rate_limit``).  429 answers slow it down
        further.
    allow_http:
        Permit a plain ``http://`` endpoint on a non-loopback host (off by default, since
        the key would travel unencrypted).
    timeouts:
        A :class:`~atai_fs.http.Timeouts`, or a dict of its fields.
    **kwargs:
        Engine options of :class:`~atai_fs.fs.base.UploadFileSystem`
        (``spool_threshold``, ``chunk_size``, ``retry``, ...) and fsspec's own.

    Any option may also come from fsspec's configuration (``fsspec.config.conf["atai"]``,
    its config files, ``FSSPEC_ATAI_<OPTION>`` variables); the strings those hold are
    read as the option's type.  See ``docs/integrations.md``.
    """

    protocol = ("atai",)
    environment_variables = ("ATAI_API_KEY", "ATAI_API_ENDPOINT", "ATAI_RATE_LIMIT")
    service_name = "Archetype AI"
    api_key_variable = "ATAI_API_KEY"
    endpoint_variable = "ATAI_API_ENDPOINT"
    rate_limit_variable = "ATAI_RATE_LIMIT"
    default_endpoint = DEFAULT_ENDPOINT
    root_marker = ""
    supports_resume = True
    declares_types = True
    readable = True

    def __init__(
        self,
        api_key: str | None = None,
        endpoint_url: str | None = None,
        max_concurrency: int | None = None,
        *,
        list_page_size: int = DEFAULT_LIST_PAGE_SIZE,
        single_request_limit: int = 8 << 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            api_key=api_key, endpoint_url=endpoint_url, max_concurrency=max_concurrency, **kwargs
        )
        list_page_size = parse_size(list_page_size, "list_page_size")
        if not 1 <= list_page_size <= 1000:
            raise ConfigurationError("list_page_size must be between 1 and 1000")
        self.list_page_size = list_page_size
        self.single_request_limit = parse_size(single_request_limit, "single_request_limit")
        self.api = AtaiApi(self.http, self.rate_limiter, require_key=self._require_key)

    def default_rate_limit(self) -> RateLimit:
        """Both documented limits: bursts of 20 a second, 100 a minute."""
        return RateLimit(per_second=20, burst=20, per_minute=100)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """``atai://NAME`` -> ``NAME``; leading slashes are not part of a name (fsspec's
        ``put(..., "atai://")`` joins names onto the root as ``/NAME``)."""
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        return super()._strip_protocol(path).lstrip("/")

    def _make_target(
        self, path: str, *, file_type: str | None = None, content_type: str | None = None
    ) -> AtaiUploadTarget:
        """``file_type`` (or its alias ``content_type``) is the MIME type sent at
        initiate; by default it is guessed from the name."""
        self._require_key()
        return AtaiUploadTarget(
            self.api,
            path,
            file_type=file_type or content_type,
            single_request_limit=self.single_request_limit,
            chunk_size=self.transfer.chunk_size,
        )

    # -- read side: listing -------------------------------------------------------------

    def invalidate_cache(self, path: str | None = None) -> None:
        """Forget cached listings (one listing fills every directory, so all of them)."""
        self.dircache.clear()

    async def _list_all(self) -> list[dict[str, Any]]:
        """Every file of the organisation, following cursors (or shards) to the end."""
        files: list[dict[str, Any]] = []
        page, cursor = await self.retry.run(
            lambda: self.api.list_page(limit=self.list_page_size), what="listing files"
        )
        files.extend(_file_entry(item) for item in page)
        if cursor is None and len(page) >= 1000:
            # A shard-form server: the first answer was shard 0, keep going shard by shard.
            index = 1
            while True:
                shard = await self.retry.run(
                    functools.partial(self.api.list_shard, index, 1000), what="listing files"
                )
                files.extend(_file_entry(item) for item in shard)
                if len(shard) < 1000:
                    break
                index += 1
        while cursor is not None:
            page, cursor = await self.retry.run(
                functools.partial(self.api.list_page, limit=self.list_page_size, after=cursor),
                what="listing files",
            )
            files.extend(_file_entry(item) for item in page)
        return files

    async def _tree(self, refresh: bool = False) -> Mapping[str, list[dict[str, Any]]]:
        """Directory name -> entries, from the cache or one full listing."""
        if refresh or "" not in self.dircache:
            tree = build_tree(await self._list_all())
            self.dircache.clear()
            self.dircache.update(tree)
        cached: Mapping[str, list[dict[str, Any]]] = self.dircache
        return cached

    async def _directory(self, name: str, refresh: bool = False) -> list[dict[str, Any]] | None:
        """The entries of directory ``name``, or None if there is no such directory.

        A miss in a cached listing is checked against a fresh one: other processes (the
        workers of Dask or Ray, which write the partitions) may have written below
        ``name`` since, and "does not exist" must never be an old answer.
        """
        from_cache = not refresh and "" in self.dircache
        entries = (await self._tree(refresh=refresh)).get(name)
        if entries is None and from_cache:
            entries = (await self._tree(refresh=True)).get(name)
        return entries

    async def _ls(
        self, path: str, detail: bool = True, refresh: bool = False, **kwargs: Any
    ) -> list[Any]:
        name = self._strip_protocol(path)
        entries = await self._directory(name, refresh=refresh)
        if entries is None:
            entries = [await self._info(name)]  # ls of a file lists the file itself
        return list(entries) if detail else [entry["name"] for entry in entries]

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        name = self._strip_protocol(path)
        if name == self.root_marker:
            return directory_entry(name)
        cached = self.dircache.get(self._parent(name)) if "" in self.dircache else None
        if cached is not None:
            for entry in cached:
                if entry["name"] == name:
                    return dict(entry)
        try:
            metadata = await self.retry.run(
                lambda: self.api.metadata(name), what=f"reading the metadata of atai://{name}"
            )
            return _file_entry(metadata)
        except NotFound:
            pass
        if await self._directory(name) is not None:
            return directory_entry(name)
        raise NotFound(f"atai://{name} does not exist", status=404)

    def modified(self, path: str) -> datetime:
        """The Unix epoch (UTC) for any existing file: the Files API records no time.

        Tools that require a modification time (DuckDB asks for one on every file it
        reads) work; to tell versions of a file apart use ``info(path)["file_uid"]``,
        which changes with every upload.
        """
        if self.info(path)["type"] != "file":
            raise IsADirectoryError(f"atai://{self._strip_protocol(path)} is a directory")
        return _NO_TIMESTAMP

    # -- read side: bytes -----------------------------------------------------------------

    def _open_read(
        self,
        path: str,
        block_size: int | None = None,
        cache_options: dict[str, Any] | None = None,
        cache_type: str = "readahead",
        size: int | None = None,
        **kwargs: Any,
    ) -> RangeReadFile:
        return RangeReadFile(
            self,
            self._strip_protocol(path),
            mode="rb",
            block_size=block_size,
            cache_type=cache_type,
            cache_options=cache_options,
            size=size,
        )

    async def _resolve_range(
        self, name: str, start: int | None, end: int | None
    ) -> tuple[int, int | None]:
        if (start is not None and start < 0) or (end is not None and end < 0):
            size = (await self._info(name))["size"]
            if start is not None and start < 0:
                start = max(0, size + start)
            if end is not None and end < 0:
                end = max(0, size + end)
        return start or 0, end

    async def _cat_file(
        self,
        path: str,
        start: int | None = None,
        end: int | None = None,
        whole_body: WholeBody | None = None,
        **kwargs: Any,
    ) -> bytes:
        """Bytes ``[start, end)`` of a file, with an HTTP ``Range`` request.

        A server that ignores ``Range`` (answers 200 with the whole body) is handled by
        streaming past the unwanted bytes, never holding the whole body; given a
        ``whole_body`` (an open file reading at random), the whole answer is kept there
        on disk instead, so later reads need no download.
        """
        name = self._strip_protocol(path)
        first, end = await self._resolve_range(name, start, end)
        if end is not None and end <= first:
            return b""
        return await self.retry.run(
            lambda: self._fetch(name, first, end, whole_body), what=f"downloading atai://{name}"
        )

    async def _fetch(
        self, name: str, first: int, end: int | None, whole_body: WholeBody | None = None
    ) -> bytes:
        ranged = first > 0 or end is not None
        headers = {}
        if ranged:
            headers["Range"] = f"bytes={first}-" + ("" if end is None else str(end - 1))
        async with self.http.stream("GET", self.api.download_url(name), headers=headers) as resp:
            if resp.status == 416:
                return b""
            if resp.status not in (200, 206):
                raise await self._download_error(name, resp)
            if resp.status == 206 or not ranged:
                return await self.http.read_body(resp, self.transfer.chunk_size)
            if whole_body is not None:
                kept = whole_body.keep()
                async for chunk in self.http.iter_body(resp, self.transfer.chunk_size):
                    kept.write(chunk)
                kept.flush()
                return whole_body.read(first, kept.tell() if end is None else end)
            # 200 to a ranged request: skip to ``first`` and stop at ``end`` while streaming.
            pieces, position = [], 0
            async for chunk in self.http.iter_body(resp, self.transfer.chunk_size):
                lo, hi = max(first - position, 0), len(chunk)
                if end is not None:
                    hi = min(hi, end - position)
                if lo < hi:
                    pieces.append(chunk[lo:hi])
                position += len(chunk)
                if end is not None and position >= end:
                    break
            return b"".join(pieces)

    async def _download_error(self, name: str, resp: Any) -> Exception:
        response = HttpResponse(resp.status, resp.headers, await self.http.read_answer(resp))
        if not self.http.is_api_url(str(resp.url)) and is_expired_url(response):
            # A redirect's presigned URL expired: a retry asks the API for a fresh one.
            return UrlExpired(
                f"downloading atai://{name}: the storage URL the API redirected to has "
                f"expired (HTTP {resp.status})",
                status=resp.status,
            )
        note = await self._why_not_downloadable(name) if resp.status == 400 else None
        return self.api.error(response, f"downloading atai://{name}", note=note)

    async def _why_not_downloadable(self, name: str) -> str:
        try:
            metadata = await self.api.metadata(name)
        except NotFound:
            return "the file was deleted"
        except Exception:  # the original error is what matters
            return "the file may still be uploading, deleted or corrupt"
        status = str(metadata.get("file_status", ""))
        return _STATUS_EXPLANATIONS.get(
            status, f"the file is not downloadable in status {status or 'unknown'}"
        )

    async def _get_file(
        self, rpath: str, lpath: str, callback: Callback = DEFAULT_CALLBACK, **kwargs: Any
    ) -> None:
        """Stream a file to disk in chunks; the local name appears only when complete."""
        if os.path.isdir(lpath):
            return
        name = self._strip_protocol(rpath)
        bar = self._progress_callback(callback, f"atai://{name}")
        progress = _RestartableProgress(bar or callback)
        try:
            await self.retry.run(
                lambda: self._download_to(name, lpath, progress), what=f"downloading atai://{name}"
            )
        finally:
            if bar is not callback and bar is not None:
                bar.close()  # the filesystem's own bar (progress=True)

    async def _download_to(self, name: str, lpath: str, progress: _RestartableProgress) -> None:
        partial = f"{lpath}.atai-partial-{uuid.uuid4().hex[:8]}"
        try:
            async with self.http.stream("GET", self.api.download_url(name)) as resp:
                if resp.status != 200:
                    raise await self._download_error(name, resp)
                if resp.content_length is not None:
                    progress.callback.set_size(resp.content_length)
                position = 0
                with open(partial, "wb") as out:
                    async for chunk in self.http.iter_body(resp, self.transfer.chunk_size):
                        out.write(chunk)
                        position += len(chunk)
                        progress.reached(position)
            os.replace(partial, lpath)
        finally:
            if os.path.exists(partial):
                os.remove(partial)

    # -- copying --------------------------------------------------------------------------

    async def _cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy within the API (it has no server-side copy): download into a spool,
        bounded in memory like any unknown-size write, then upload it in parts."""
        source_name = self._strip_protocol(path1)
        target = self._make_target(self._write_name(path2), **kwargs)
        spool = SpoolSource(self.transfer.spool_threshold, spool_dir=self.transfer.spool_dir)
        try:
            await self.retry.run(
                lambda: self._download_into(source_name, spool),
                what=f"copying atai://{source_name}",
            )
            await self._uploader(target).upload(spool)
        finally:
            spool.close()
        self.invalidate_cache()

    async def _download_into(self, name: str, spool: SpoolSource) -> None:
        spool.truncate()
        async with self.http.stream("GET", self.api.download_url(name)) as resp:
            if resp.status != 200:
                raise await self._download_error(name, resp)
            async for chunk in self.http.iter_body(resp, self.transfer.chunk_size):
                spool.write(chunk)

    # -- deleting -------------------------------------------------------------------------

    async def _rm_file(self, path: str, **kwargs: Any) -> None:
        name = self._strip_protocol(path)
        try:
            await self.retry.run(lambda: self.api.delete(name), what=f"deleting atai://{name}")
        finally:
            self.invalidate_cache()

    async def _rm(
        self,
        path: str | list[str],
        recursive: bool = False,
        maxdepth: int | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        """Delete files (a prefix with ``recursive=True``), several requests at a time."""
        paths = await self._expand_path(path, recursive=recursive, maxdepth=maxdepth)
        tree = await self._tree()
        files = [p for p in paths if p not in tree]  # directories vanish with their files
        await _run_coros_in_chunks(
            [self._rm_file(p) for p in files],
            batch_size=batch_size or self.transfer.max_concurrency,
            nofiles=True,
        )
        self.invalidate_cache()

    async def _rmdir(self, path: str) -> None:
        """Pseudo-directories vanish with their last file; removing an empty one is a no-op."""
        name = self._strip_protocol(path)
        if (await self._tree()).get(name):
            raise OSError(errno.ENOTEMPTY, f"atai://{name} is not empty")

    rmdir = sync_wrapper(_rmdir)  # fsspec mirrors only its own list of async methods
