"""``sandbox://``: files and directory trees written into Nullspace sandboxes.

``sandbox://SANDBOX_ID/ABSOLUTE/PATH`` is the path ``/ABSOLUTE/PATH`` inside sandbox
``SANDBOX_ID``.  Every write goes through a resumable upload session (spec
``sandbox-uploads.md``): ``put_file`` of a local file (resumable after a crash),
``open(..., "wb")`` (spooled, or streamed with ``size=``), ``pipe_file``, and
``put(local_dir, remote, recursive=True)``, which sends the whole tree as one tar
archive (one ``directory_tar`` session).  The API has no read side, so neither has
this filesystem.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import tarfile
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from ..engine.resume import LocalFileIdentity, ResumeJournal
from ..engine.sources import Buffer, BytesSource, FileSource, PartSource, SpoolSource
from ..engine.target import UploadTarget
from ..engine.uploader import Uploader
from ..errors import ConfigurationError, InvalidRequest, NotFound, UploadFailed
from ..http import Timeouts
from ..targets.sandbox import (
    CONFLICTS,
    DEFAULT_ENDPOINT,
    ROUTE_PREFIXES,
    SESSION_ENDING_REASONS,
    TERMINAL_STATUSES,
    SandboxApi,
    SandboxUploadError,
    SandboxUploadTarget,
    SessionGone,
    digest_parts,
)
from .base import UploadFileSystem
from .file import UploadFile

__all__ = ["SandboxFileSystem", "SandboxUploadFile", "build_tar_archive"]

#: Extra connections beyond the part PUTs, for control-plane calls made meanwhile.


class SandboxFileSystem(UploadFileSystem):
    """fsspec filesystem writing into Nullspace sandboxes (protocol ``sandbox``).

    Parameters
    ----------
    api_key:
        The Nullspace API key; defaults to ``SANDBOX_API_KEY``.  Sent only to
        ``endpoint_url`` (parts go to the API host too).
    endpoint_url:
        API base URL; defaults to ``SANDBOX_API_ENDPOINT``, then the documented host.
    route:
        ``"sandboxes"`` (``/v1/sandboxes/{id}/uploads``, the documented form, default) or
        ``"machines"`` (``/v1/machines/{id}/uploads``, what SDK 1.0.3 calls).
    conflict:
        What a write does when its destination exists: ``"error"`` (default:
        ``FileExistsError``), ``"replace"`` (remove it first) or ``"merge"`` (overwrite a
        file; extract a tree over the existing one).  Also a per-call keyword.
    user:
        Sandbox user owning the written files.  Also a per-call keyword.
    metadata:
        Free-form object stored with each session.  Also a per-call keyword.
    **kwargs:
        Engine options of :class:`~atai_fs.fs.base.UploadFileSystem` and fsspec's own.
        ``max_concurrency`` bounds part PUTs of the filesystem; each upload is further
        bounded by its session's ``max_concurrency``.
    """

    protocol = ("sandbox",)
    environment_variables = ("SANDBOX_API_KEY", "SANDBOX_API_ENDPOINT")
    service_name = "Nullspace"
    api_key_variable = "SANDBOX_API_KEY"
    endpoint_variable = "SANDBOX_API_ENDPOINT"
    default_endpoint = DEFAULT_ENDPOINT
    root_marker = ""
    supports_resume = True

    def __init__(
        self,
        api_key: str | None = None,
        endpoint_url: str | None = None,
        max_concurrency: int = 8,
        *,
        route: str = "sandboxes",
        conflict: str = "error",
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        allow_http: bool = False,
        verify_tls: bool = True,
        timeouts: Timeouts | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(max_concurrency=max_concurrency, **kwargs)
        if route not in ROUTE_PREFIXES:
            raise ConfigurationError(
                f"route must be one of {sorted(ROUTE_PREFIXES)}, got {route!r}"
            )
        if conflict not in CONFLICTS:
            raise ConfigurationError(f"conflict must be one of {CONFLICTS}, got {conflict!r}")
        self.route = route
        self.conflict = conflict
        self.user = user
        self.metadata = dict(metadata or {})
        self._connect(
            api_key=api_key,
            endpoint_url=endpoint_url,
            allow_http=allow_http,
            verify_tls=verify_tls,
            timeouts=timeouts,
        )
        self.api = SandboxApi(self.http, route=route)
        self._sessions = _SessionJournal(self._resume_journal.directory)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return (
            f"SandboxFileSystem(endpoint_url={self.endpoint_url!r}, route={self.route!r}, "
            f"api_key=<{key}>)"
        )

    # -- paths and targets ------------------------------------------------------------

    def split_path(self, path: str) -> tuple[str, str]:
        """``(sandbox_id, absolute_path)`` of ``sandbox://SANDBOX_ID/ABSOLUTE/PATH``."""
        stripped = self._strip_protocol(str(path))
        sandbox_id, slash, rest = stripped.partition("/")
        target = "/" + rest.strip("/")
        if not sandbox_id or not slash or target == "/":
            raise InvalidRequest(
                f"{path!r} is not a sandbox path: use sandbox://SANDBOX_ID/ABSOLUTE/PATH, "
                "e.g. sandbox://sb_a1b2c3d4/workspace/model.bin"
            )
        return sandbox_id, str(PurePosixPath(target))

    def _make_target(
        self,
        path: str,
        *,
        conflict: str | None = None,
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        kind: str = "file",
        source_kind: str = "restartable_file",
        whole_sha256: str | None = None,
        mode: str | None = None,
        **_: Any,
    ) -> SandboxUploadTarget:
        self._require_key()
        sandbox_id, target_path = self.split_path(path)
        if mode == "create":  # fsspec's "refuse to replace": the server checks atomically
            conflict = "error"
        return SandboxUploadTarget(
            self.api,
            sandbox_id,
            target_path,
            kind=kind,
            source_kind=source_kind,
            conflict=conflict or self.conflict,
            user=user if user is not None else self.user,
            metadata=metadata if metadata is not None else self.metadata,
            whole_sha256=whole_sha256,
            chunk_size=self.transfer.chunk_size,
        )

    # -- uploads ----------------------------------------------------------------------

    async def _upload_whole(self, uploader: Uploader, source: PartSource) -> Any:
        """Create the session, hash the source in one pass (whole digest and per-part
        digests, with the session's part size), then send the parts and complete."""
        target = _sandbox_target(uploader)
        plan = await uploader.initiate(source.size)
        try:
            whole, digests = await asyncio.to_thread(
                digest_parts,
                source,
                plan.details["session"].part_size,
                whole=target.whole_sha256 is None,
                chunk_size=self.transfer.chunk_size,
            )
        except BaseException:
            await asyncio.shield(uploader.abandon(plan.upload_id))
            raise
        target.whole_sha256 = target.whole_sha256 or whole
        target.part_digests = digests
        await uploader.adopt(plan, source.size)
        return await uploader.send_and_finish(source)

    async def _put_file(
        self,
        lpath: str,
        rpath: str,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        resume: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Upload a local file through a session, its parts read straight from disk.

        With ``resume=True`` (default) a failure leaves the session open (the error names
        it) and a killed process leaves it too; running the same ``put_file`` again
        reads the session and sends only the parts from its ``next_part`` on, provided
        the local file still has the recorded length and SHA-256.
        """
        if os.path.isdir(lpath):
            return None  # directories are implied by the files put into them
        target = self._make_target(rpath, mode=mode, **kwargs)
        source = FileSource(lpath)
        try:
            uploader = self._uploader(target, callback=callback, resumable=resume)
            if not resume:
                return await self._upload_whole(uploader, source)
            return await self._put_resumable(target, uploader, source)
        finally:
            source.close()

    async def _put_resumable(
        self, target: SandboxUploadTarget, uploader: Uploader, source: FileSource
    ) -> Any:
        destination = self._destination(target)
        identity = LocalFileIdentity.of(source.path)
        record = self._sessions.read(destination)
        if record is not None:
            resumed = await self._resume(record, target, uploader, source, identity)
            self._sessions.forget(destination)
            if resumed is not None:
                return resumed
        plan = await uploader.initiate(source.size)
        self._sessions.write(destination, plan.upload_id, identity, None)
        whole, digests = await asyncio.to_thread(
            digest_parts,
            source,
            plan.details["session"].part_size,
            chunk_size=self.transfer.chunk_size,
        )
        target.whole_sha256, target.part_digests = whole, digests
        self._sessions.write(destination, plan.upload_id, identity, whole)
        await uploader.adopt(plan, source.size)
        return await self._finish_resumable(uploader, source, destination)

    async def _finish_resumable(
        self, uploader: Uploader, source: FileSource, destination: str
    ) -> Any:
        """Send and complete; a failure that ended the session is raised as itself (the
        session cannot be resumed), any other leaves it resumable and says so."""
        try:
            result = await uploader.send_and_finish(source)
        except UploadFailed as exc:
            cause = exc.__cause__
            if isinstance(cause, SandboxUploadError) and cause.reason in SESSION_ENDING_REASONS:
                self._sessions.forget(destination)
                raise cause from None
            raise
        self._sessions.forget(destination)
        return result

    async def _resume(
        self,
        record: Mapping[str, Any],
        target: SandboxUploadTarget,
        uploader: Uploader,
        source: FileSource,
        identity: LocalFileIdentity,
    ) -> Any:
        """Continue the recorded session if it is alive and the local file is the same;
        ``None`` when a fresh upload must start (a stale session is aborted first)."""
        upload_id = str(record["upload_id"])
        try:
            session = await self.transfer.retry.run(
                lambda: self.api.get_session(target.sandbox_id, upload_id),
                what=f"reading upload session {upload_id}",
            )
        except (NotFound, SessionGone):
            return None
        recorded = record.get("source") or {}
        same_file = (
            recorded.get("path") == identity.path
            and recorded.get("size") == identity.size == session.content_length
            and isinstance(record.get("sha256"), str)
        )
        if session.status == "completed":
            # An earlier run completed it but died before hearing the answer.
            unchanged = same_file and recorded.get("mtime_ns") == identity.mtime_ns
            return {"session": dict(session.raw), "resumed": True} if unchanged else None
        if session.status in TERMINAL_STATUSES:
            return None
        whole = None
        if same_file:
            whole, digests = await asyncio.to_thread(
                digest_parts, source, session.part_size, chunk_size=self.transfer.chunk_size
            )
        if whole is None or whole != record["sha256"]:
            # Another file, or this one changed: never splice its parts onto the session.
            await uploader.abandon(upload_id)
            return None
        target.whole_sha256, target.part_digests = whole, digests
        first = session.part_count if session.next_part is None else session.next_part
        await uploader.adopt(target.plan_for(session, first=first), source.size)
        return await self._finish_resumable(uploader, source, self._destination(target))

    def _destination(self, target: SandboxUploadTarget) -> str:
        return f"sandbox|{self.endpoint_url}|{self.route}|{target.sandbox_id}|{target.target_path}"

    async def _pipe_file(
        self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any
    ) -> Any:
        """Upload bytes held in memory (no copy)."""
        target = self._make_target(path, mode=mode, source_kind="spooled_stream", **kwargs)
        return await self._upload_whole(self._uploader(target), BytesSource(value))

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
        if mode not in ("wb", "xb"):
            return super()._open(
                path, mode, block_size, autocommit, cache_options, size=size, **kwargs
            )
        target = self._make_target(
            path,
            mode="create" if mode == "xb" else None,
            source_kind="spooled_stream",
            **kwargs,
        )
        uploader = self._run_on_loop(self._new_uploader_async(target))
        return SandboxUploadFile(
            self,
            self._strip_protocol(path),
            uploader,
            mode="wb",
            size=size,
            autocommit=autocommit,
            block_size=block_size,
        )

    # -- directories ------------------------------------------------------------------

    async def _put(
        self,
        lpath: Any,
        rpath: Any,
        recursive: bool = False,
        callback: Callback = DEFAULT_CALLBACK,
        batch_size: int | None = None,
        maxdepth: int | None = None,
        **kwargs: Any,
    ) -> Any:
        """``put(local_dir, remote, recursive=True)`` sends the tree as one tar archive
        (one ``directory_tar`` session, extracted by the sandbox atomically with the
        ``conflict`` policy); anything else is fsspec's file-by-file ``put``."""
        if (
            recursive
            and maxdepth is None
            and isinstance(lpath, (str, os.PathLike))
            and isinstance(rpath, str)
            and os.path.isdir(lpath)
        ):
            local = os.fspath(lpath)
            remote = rpath
            if remote.endswith("/") and not local.endswith(("/", os.sep)):
                remote += os.path.basename(os.path.normpath(local))  # like cp -r dir dest/
            return await self._put_directory(local, remote, callback=callback, **kwargs)
        return await super()._put(
            lpath,
            rpath,
            recursive=recursive,
            callback=callback,
            batch_size=batch_size,
            maxdepth=maxdepth,
            **kwargs,
        )

    async def _put_directory(
        self, local: str, remote: str, *, callback: Callback = DEFAULT_CALLBACK, **kwargs: Any
    ) -> Any:
        """Archive ``local`` into a spool (memory, then an unlinked temporary file) while
        hashing it, then upload the archive; its contents land at ``remote``."""
        kwargs.pop("mode", None)
        spool = SpoolSource(self.transfer.spool_threshold, spool_dir=self.transfer.spool_dir)
        try:
            digest, _ = await asyncio.to_thread(build_tar_archive, local, spool)
            target = self._make_target(
                remote,
                kind="directory_tar",
                source_kind="directory_archive",
                whole_sha256=digest,
                **kwargs,
            )
            return await self._upload_whole(self._uploader(target, callback=callback), spool)
        finally:
            spool.close()

    # -- no read side -----------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        raise NotFound(
            f"{path}: the sandbox upload API cannot read or list files; sandbox:// is write-only",
            status=None,
        )

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> Any:
        return await self._info(path)


def _sandbox_target(uploader: Uploader) -> SandboxUploadTarget:
    target: UploadTarget = uploader.target
    if not isinstance(target, SandboxUploadTarget):
        raise TypeError(f"expected a sandbox upload target, got {type(target).__name__}")
    return target


class SandboxUploadFile(UploadFile):
    """A written file whose SHA-256 is computed as it is written, so the session's
    whole-content digest is known at close without reading the spool again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sha256 = hashlib.sha256()
        super().__init__(*args, **kwargs)

    def write(self, data: Buffer) -> int:
        written = super().write(data)
        self._sha256.update(data)
        return written

    def _send_everything(self) -> None:
        if not self._parts_sent:
            _sandbox_target(self._uploader).whole_sha256 = self._sha256.hexdigest()
        super()._send_everything()


# -- archives ----------------------------------------------------------------------------


class _HashingSink:
    """A write-only file object feeding a spool and a SHA-256 (what tarfile writes into)."""

    def __init__(self, spool: SpoolSource) -> None:
        self.spool = spool
        self.sha256 = hashlib.sha256()

    def write(self, data: Buffer) -> int:
        self.sha256.update(data)
        return self.spool.write(data)


def build_tar_archive(root: str, spool: SpoolSource) -> tuple[str, int]:
    """Write ``root``'s tree as a PAX tar into ``spool``; return (SHA-256, file count).

    Entries are sorted by name, relative to ``root``, with modes and modification times
    kept and owners zeroed (as the vendor SDK builds them).  Regular files, directories
    and relative symlinks that stay inside the tree are archived; a symlink that is
    absolute or leaves the tree, a FIFO, socket or device file raises
    :class:`~atai_fs.errors.InvalidRequest` naming it, before anything is sent.
    Memory stays bounded: files are copied in chunks and the spool spills to disk.
    """
    sink = _HashingSink(spool)
    count = 0
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        pending = sorted(os.listdir(root), reverse=True)  # a stack: names pop in order
        while pending:
            relative = pending.pop()
            full = os.path.join(root, relative)
            info = os.lstat(full)
            entry = tarfile.TarInfo(relative.replace(os.sep, "/"))
            entry.mode = stat.S_IMODE(info.st_mode)
            entry.mtime = int(info.st_mtime)
            entry.uid = entry.gid = 0
            entry.uname = entry.gname = ""
            if stat.S_ISDIR(info.st_mode):
                entry.type = tarfile.DIRTYPE
                archive.addfile(entry)
                children = sorted(os.listdir(full), reverse=True)
                pending.extend(os.path.join(relative, child) for child in children)
            elif stat.S_ISREG(info.st_mode):
                entry.size = info.st_size
                with open(full, "rb") as data:
                    archive.addfile(entry, data)
                count += 1
            elif stat.S_ISLNK(info.st_mode):
                entry.type = tarfile.SYMTYPE
                entry.linkname = _inside_link(root, relative, os.readlink(full))
                archive.addfile(entry)
            else:
                raise InvalidRequest(
                    f"{full} is a special file (FIFO, socket or device); directory uploads "
                    "take regular files, directories and symlinks only: remove it or upload "
                    "the files one by one"
                )
    return sink.sha256.hexdigest(), count


def _inside_link(root: str, relative: str, link: str) -> str:
    resolved = os.path.normpath(os.path.join(os.path.dirname(relative), link))
    if os.path.isabs(link) or resolved == ".." or resolved.startswith(".." + os.sep):
        raise InvalidRequest(
            f"{os.path.join(root, relative)} is a symlink to {link!r}, outside the uploaded "
            "directory; the sandbox only accepts relative links that stay inside the tree"
        )
    return link.replace(os.sep, "/")


# -- resume records ----------------------------------------------------------------------


class _SessionJournal(ResumeJournal):
    """Resume records that also keep the local file's SHA-256 (sessions resume by id,
    and the digest proves the file is the one whose parts the session holds)."""

    def write(
        self,
        destination: str,
        upload_id: str,
        source: LocalFileIdentity,
        sha256: str | None,
    ) -> None:
        self.record(destination, upload_id, source)
        path = self._file(destination)
        record = json.loads(path.read_text())
        record["sha256"] = sha256
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, path)

    def read(self, destination: str) -> dict[str, Any] | None:
        try:
            record = json.loads(self._file(destination).read_text())
        except (OSError, ValueError):
            return None
        if record.get("destination") != destination or not isinstance(record.get("upload_id"), str):
            return None
        return record
