"""``flow://RUN_ID/EDGE``: the input edges of a waiting flow-engine run as an fsspec filesystem."""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fsspec.asyn import FSTimeoutError, sync, sync_wrapper

from ..advice import call
from ..engine.target import UploadTarget
from ..errors import InvalidRequest, NotFound
from ..targets.content_types import content_type
from ..targets.flow import (
    DEFAULT_ENDPOINT,
    FINISHED_STATUSES,
    Artifact,
    FlowApi,
    FlowRun,
    FlowUploadTarget,
    WaitingUrl,
)
from .base import UploadFileSystem, Write
from .read_file import RangeReadFile

__all__ = ["FlowFileSystem"]


def _waiting_entry(run: FlowRun, edge: WaitingUrl) -> dict[str, Any]:
    return {
        "name": f"{run.id}/{edge.edge}",
        "size": None,
        "type": "file",
        "status": "waiting",
        "ttl": edge.ttl,
        "expires_at": edge.expires_at,
        "store_name": edge.artifact.store_name,
        "object_name": edge.artifact.object_name,
        "run_status": run.status,
    }


def _uploaded_entry(run: FlowRun, edge: str, artifact: Artifact) -> dict[str, Any]:
    return {
        "name": f"{run.id}/{edge}",
        "size": None,
        "type": "file",
        "status": "uploaded",
        "store_name": artifact.store_name,
        "object_name": artifact.object_name,
        "run_status": run.status,
    }


class FlowFileSystem(UploadFileSystem):
    """fsspec filesystem over the flow engine's upload URLs (protocol ``flow``).

    ``flow://RUN_ID/EDGE`` is the input edge ``EDGE`` of run ``RUN_ID``: writing to it
    PUTs the bytes to the presigned ``PutURL`` the run lists for that edge, once, whole
    (unknown-size writes are spooled and sent at close).  ``ls("flow://RUN_ID/")`` lists
    the run's edges: ``status`` ``"waiting"`` (with ``ttl``/``expires_at``) or
    ``"uploaded"`` (with the artifact's ``store_name``/``object_name``); ``exists`` is
    true once an edge was uploaded and the engine noticed it.  Sizes are unknown
    (``None``): the engine does not report them, and reading back needs the store's own
    credentials, so the filesystem is write-only.

    Parameters
    ----------
    endpoint_url:
        Controller API base; defaults to ``FLOW_API_ENDPOINT``, then
        ``http://localhost:1234/api/v1``.  The API takes no credentials.
    content_type:
        ``Content-Type`` sent with every PUT unless a call passes its own; by default
        ``put_file`` guesses it from the local file name (the engine's docs ask for the
        file's MIME type; storage accepts any).
    allow_http:
        Permit plain ``http://`` to a non-loopback controller (off by default: the
        answers carry presigned URLs, which are credentials until they expire).
    **kwargs:
        Engine options of :class:`~atai_fs.fs.base.UploadFileSystem` (``retry``,
        ``spool_threshold``, ``chunk_size``, ...) and fsspec's own.
    """

    protocol = ("flow",)
    environment_variables = ("FLOW_API_ENDPOINT",)
    service_name = "flow engine"
    endpoint_variable = "FLOW_API_ENDPOINT"
    default_endpoint = DEFAULT_ENDPOINT
    endpoint_carries = (
        "the presigned upload URLs of the controller's answers (anyone on the path could use them)"
    )
    root_marker = ""
    supports_resume = False
    declares_types = True

    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        content_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(endpoint_url=endpoint_url, **kwargs)
        self.content_type = content_type
        self.api = FlowApi(self.http, self.rate_limiter)

    # -- paths ----------------------------------------------------------------------------

    def split_path(self, path: str) -> tuple[str, str]:
        """``(run_id, edge)`` of ``flow://RUN_ID/EDGE`` (``edge`` empty for the run)."""
        name = self._strip_protocol(path)
        run_id, _, edge = name.partition("/")
        return run_id, edge

    def _make_target(
        self,
        path: str,
        *,
        content_type: str | None = None,
        file_type: str | None = None,
    ) -> FlowUploadTarget:
        """``content_type`` (or its alias ``file_type``) is the PUT's ``Content-Type``."""
        run_id, edge = self.split_path(path)
        if not run_id or not edge:
            raise InvalidRequest(
                f"cannot write to flow://{self._strip_protocol(path)}: flow paths are "
                "flow://RUN_ID/EDGE_NAME (an input edge of a waiting run)"
            )
        return FlowUploadTarget(
            self.api, run_id, edge, content_type=content_type or file_type or self.content_type
        )

    # -- writing --------------------------------------------------------------------------

    def _write_target(self, write: Write) -> UploadTarget:
        """A local file's MIME type (guessed from its name unless ``content_type=`` or
        the filesystem's says otherwise) goes in ``Content-Type``."""
        options = write.options
        typed = options.get("content_type") or options.get("file_type") or self.content_type
        if write.local_path and not typed:
            guessed = content_type(os.fspath(write.local_path))
            if guessed:
                options["content_type"] = guessed
        return super()._write_target(write)

    # -- listing --------------------------------------------------------------------------

    def invalidate_cache(self, path: str | None = None) -> None:
        """Nothing is cached: the engine changes a run's edges on its own schedule."""

    async def _run(self, run_id: str) -> FlowRun:
        return await self.retry.run(
            lambda: self.api.status(run_id), what=f"reading flow run {run_id}"
        )

    async def _ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        run_id, edge = self.split_path(path)
        if not run_id:
            raise InvalidRequest(
                "the flow API cannot list runs; list one run's edges with "
                + call("ls", "flow://RUN_ID/")
            )
        if edge:
            entries = [await self._info(path)]
        else:
            run = await self._run(run_id)
            entries = [_waiting_entry(run, waiting) for waiting in run.waiting.values()]
            entries += [
                _uploaded_entry(run, name, artifact)
                for name, artifact in run.artifacts.items()
                if name not in run.waiting
            ]
            entries.sort(key=lambda entry: entry["name"])
        return entries if detail else [entry["name"] for entry in entries]

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        run_id, edge = self.split_path(path)
        if not run_id:
            return {"name": "", "size": None, "type": "directory"}
        run = await self._run(run_id)
        if not edge:
            return {"name": run_id, "size": None, "type": "directory", "run_status": run.status}
        if edge in run.waiting:
            return _waiting_entry(run, run.waiting[edge])
        if edge in run.artifacts:
            return _uploaded_entry(run, edge, run.artifacts[edge])
        raise NotFound(
            f"flow://{run_id}/{edge}: run {run_id} has no edge {edge!r} waiting for an upload "
            f"or holding an artifact (waiting: {', '.join(sorted(run.waiting)) or 'none'})"
        )

    async def _exists(self, path: str, **kwargs: Any) -> bool:
        """A run exists while the controller knows it; an edge once it was uploaded."""
        try:
            info = await self._info(path)
        except FileNotFoundError:
            return False
        return info.get("status") != "waiting"

    def _open_read(self, path: str, **kwargs: Any) -> RangeReadFile:
        raise InvalidRequest(
            f"flow://{self._strip_protocol(path)} cannot be read: the engine offers upload "
            "URLs only; read the artifact from its store with the store's own credentials"
        )

    # -- runs -----------------------------------------------------------------------------

    async def _start_run(
        self, flow: Mapping[str, Any], node_defs: Sequence[Mapping[str, Any]] = ()
    ) -> dict[str, Any]:
        """Start a run of an inline flow definition (``POST /flow/test``) and return the
        run's JSON (``ID``, ``Status``, ``WaitingURLs``...).  Not retried: every call
        creates a new run."""
        run = await self.api.start(flow, node_defs)
        return dict(run.raw)

    async def _run_status(self, run_id: str) -> dict[str, Any]:
        """The run's JSON from ``GET /flow/status/{id}``."""
        return dict((await self._run(run_id)).raw)

    async def _wait_for_run(
        self,
        run_id: str,
        statuses: Sequence[str] = FINISHED_STATUSES,
        *,
        timeout: float = 300.0,
        interval: float = 2.0,
    ) -> dict[str, Any]:
        """Poll the run until its status is one of ``statuses`` and return its JSON.

        The controller forgets a finished run on its next pass (spec 4.2): if a run seen
        before disappears, the last JSON seen is returned with ``"Purged": True``.
        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while True:
            try:
                run = await self._run(run_id)
            except NotFound:
                if last is None:
                    raise
                return {**last, "Purged": True}
            last = dict(run.raw)
            if run.status in statuses:
                return last
            if time.monotonic() + interval > deadline:
                raise TimeoutError(
                    f"flow run {run_id} is still {run.status} after {timeout:g} s "
                    f"(waiting for {', '.join(statuses)})"
                )
            await asyncio.sleep(interval)

    start_run = sync_wrapper(_start_run)
    run_status = sync_wrapper(_run_status)

    @functools.wraps(_wait_for_run)
    def wait_for_run(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # fsspec's sync() would take ``timeout`` for itself: bind the arguments first.
        wait = functools.partial(self._wait_for_run, *args, **kwargs)
        try:
            finished: dict[str, Any] = sync(self.loop, wait)
            return finished
        except FSTimeoutError as exc:
            # fsspec swaps a coroutine's TimeoutError for its own, losing our message.
            if isinstance(exc.__cause__, TimeoutError):
                raise exc.__cause__ from None
            raise
