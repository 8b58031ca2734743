"""``sandbox://``: files and directory trees written into Nullspace sandboxes.

``sandbox://SANDBOX_ID/ABSOLUTE/PATH`` is the path ``/ABSOLUTE/PATH`` inside sandbox
``SANDBOX_ID``.  Writes go through resumable upload sessions (spec
``sandbox-uploads.md``): ``put_file`` of a local file (resumable after a crash),
``open(..., "wb")`` (spooled, or streamed with ``size=``), ``pipe_file``, and
``put(local_dir, remote, recursive=True)``, which sends the whole tree as one tar
archive (one ``directory_tar`` session, resumable too: a rerun of the same ``put``
continues it).  Files up to ``direct_limit`` (8 MiB) with ``conflict="merge"`` or
``"replace"`` go up in one request instead (the direct route).  The API has no read
side, so neither has this filesystem.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from ..engine.config import one_of, parse_size
from ..engine.resume import LocalFileIdentity
from ..engine.sources import SpoolSource
from ..engine.target import Completion, UploadTarget
from ..errors import ConfigurationError, InvalidRequest, NotFound
from ..targets.sandbox import (
    CONFLICTS,
    DEFAULT_ENDPOINT,
    DIRECT_UPLOAD_LIMIT,
    ROUTE_PREFIXES,
    SandboxApi,
    SandboxUploadTarget,
    TreeMember,
    build_tar_archive,
    scan_tree,
)
from .base import UploadFileSystem, Write

__all__ = ["SandboxFileSystem"]


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
    direct_limit:
        Largest file sent in one request by the direct route (``PUT
        /v1/machines/{id}/file``, as the vendor SDK does; default 8 MiB; 0: never).
        The route has no conflict check, so writes with ``conflict="error"`` take a
        session whatever their size.
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
    uploads_directories_whole = True

    def __init__(
        self,
        api_key: str | None = None,
        endpoint_url: str | None = None,
        max_concurrency: int | None = None,
        *,
        route: str = "sandboxes",
        conflict: str = "error",
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        direct_limit: int = DIRECT_UPLOAD_LIMIT,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            api_key=api_key, endpoint_url=endpoint_url, max_concurrency=max_concurrency, **kwargs
        )
        if route not in ROUTE_PREFIXES:
            raise ConfigurationError(
                f"route must be {one_of(sorted(ROUTE_PREFIXES))}, got {route!r}"
            )
        if conflict not in CONFLICTS:
            raise ConfigurationError(f"conflict must be {one_of(CONFLICTS)}, got {conflict!r}")
        self.route = route
        self.conflict = conflict
        self.user = user
        self.metadata = dict(metadata or {})
        self.direct_limit = parse_size(direct_limit, "direct_limit")
        if self.direct_limit < 0:
            raise ConfigurationError(f"direct_limit must not be negative, got {direct_limit!r}")
        self.api = SandboxApi(
            self.http, self.rate_limiter, route=route, require_key=self._require_key
        )

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

    def _write_name(self, path: str) -> str:
        self.split_path(path)  # the clear error for anything but SANDBOX_ID/ABSOLUTE/PATH
        return super()._write_name(path)

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
        members: Sequence[TreeMember] | None = None,
        mode: str = "overwrite",
    ) -> SandboxUploadTarget:
        """Per-call options: ``conflict``, ``user``, ``metadata`` (the filesystem's by
        default); ``mode="create"`` (fsspec's "refuse to replace") means
        ``conflict="error"``, which the server checks atomically."""
        self._require_key()
        sandbox_id, target_path = self.split_path(path)
        if mode == "create":
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
            direct_limit=self.direct_limit,
            members=members,
        )

    # -- uploads ----------------------------------------------------------------------

    def _write_target(self, write: Write) -> UploadTarget:
        """The server checks conflicts itself, atomically: ``"create"`` travels to the
        target; a local file is restartable, anything else a spooled stream."""
        options = {"source_kind": "restartable_file" if write.local_path else "spooled_stream"}
        return self._target(write.name, {**options, **write.options, "mode": write.mode})

    # -- directories ------------------------------------------------------------------

    async def _put(
        self, lpath: Any, rpath: Any, recursive: bool = False, **kwargs: Any
    ) -> Completion | list[Any] | None:
        """``put(local_dir, remote, recursive=True)`` sends the tree as one tar archive
        (one ``directory_tar`` session, extracted by the sandbox atomically with the
        ``conflict`` policy); anything else is fsspec's file-by-file ``put``."""
        whole_tree = recursive and kwargs.get("maxdepth") is None
        if whole_tree and isinstance(rpath, str) and _is_directory(lpath):
            local = os.fspath(lpath)
            remote = rpath
            if remote.endswith("/") and not local.endswith(("/", os.sep)):
                remote += os.path.basename(os.path.normpath(local))  # like cp -r dir dest/
            kwargs.pop("maxdepth", None)
            kwargs.pop("batch_size", None)
            return await self._put_directory(local, remote, **kwargs)
        results = await super()._put(lpath, rpath, recursive, **kwargs)
        return results

    async def _put_directory(
        self,
        local: str,
        remote: str,
        *,
        callback: Callback = DEFAULT_CALLBACK,
        resume: bool = True,
        **options: Any,
    ) -> Completion:
        """Archive ``local`` into a spool (memory, then an unlinked temporary file) while
        hashing it, then upload the archive; its contents land at ``remote``.

        With ``resume=True`` (the default) a failure leaves the session in progress and
        a rerun of the same ``put`` continues it: the archive is rebuilt (an unchanged
        tree gives the same bytes), checked against what the session accepted, and only
        the parts from its ``next_part`` are sent.  A tree that changed meanwhile starts
        a fresh session, with a warning.
        """
        options.pop("mode", None)
        config = self._call_config(options)
        members = await asyncio.to_thread(scan_tree, local)
        spool = SpoolSource(self.transfer.spool_threshold, spool_dir=self.transfer.spool_dir)
        try:
            digest, _ = await asyncio.to_thread(build_tar_archive, local, spool, members)
            target = self._make_target(
                remote,
                kind="directory_tar",
                source_kind="directory_archive",
                whole_sha256=digest,
                members=members,
                **options,
            )
            uploader = self._uploader(target, callback=callback, config=config)
            if not (resume and uploader.streams(spool.size)):
                return await uploader.upload(spool)
            newest = max((m.mtime_ns for m in members), default=0)
            identity = LocalFileIdentity(os.path.abspath(local), spool.size, newest)
            return await uploader.upload_resumable(
                spool, self._resume_journal, self._destination(target), identity
            )
        finally:
            spool.close()

    # -- no read side -----------------------------------------------------------------

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        raise NotFound(
            f"{path}: the sandbox upload API cannot read or list files; sandbox:// is write-only",
            status=None,
        )

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        await self._info(path)  # raises: nothing can be listed
        return []


def _is_directory(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.path.isdir(path)
