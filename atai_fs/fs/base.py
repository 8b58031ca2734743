"""A generic fsspec filesystem over any upload target.

:class:`UploadFileSystem` implements fsspec's write side (``open(..., "wb")``,
``put_file``, ``put``, ``pipe_file``) once, on top of the engine; each protocol adds a
small subclass that builds its :class:`~atai_fs.engine.target.UploadTarget` and, where
the API allows, the read side.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from typing import Any

from fsspec.asyn import AsyncFileSystem, sync
from fsspec.callbacks import DEFAULT_CALLBACK, Callback

from ..engine.body import DEFAULT_CHUNK_SIZE
from ..engine.ratelimit import RateLimit
from ..engine.resume import LocalFileIdentity, ResumeJournal
from ..engine.retry import RetryPolicy
from ..engine.sources import BytesSource, FileSource, PartSource
from ..engine.target import UploadTarget
from ..engine.uploader import TransferConfig, Uploader
from ..errors import ConfigurationError, Conflict, InvalidRequest
from ..http import HttpClient, Timeouts, check_endpoint
from .file import UploadFile

__all__ = ["UploadFileSystem", "flag_option"]

_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def flag_option(value: Any, name: str) -> bool:
    """A boolean storage option; the strings of fsspec config files and ``FSSPEC_*``
    variables ("true"/"false", "yes"/"no", "on"/"off", "1"/"0") read as what they say."""
    if not isinstance(value, str):
        return bool(value)
    word = value.strip().lower()
    if word in _TRUE_WORDS or word in _FALSE_WORDS:
        return word in _TRUE_WORDS
    raise ConfigurationError(f"{name} must be true or false, got {value!r}")


class _EnvironmentToken:
    """A class attribute whose value is the current value of the protocol's environment
    variables, so fsspec's instance cache tells ``ATAI_API_KEY=a`` from ``=b``.

    fsspec keys cached instances on explicit arguments plus the class attributes named in
    ``_extra_tokenize_attributes``; without this, a filesystem built from one key in the
    environment would be handed out again after the environment changed.
    """

    def __get__(self, instance: object, owner: type) -> tuple[str | None, ...]:
        names = getattr(owner, "environment_variables", ())
        return tuple(os.environ.get(name) for name in names)


#: Connections beyond the part PUTs, for control-plane calls made meanwhile.
_CONTROL_CONNECTIONS = 4


class UploadFileSystem(AsyncFileSystem):
    """fsspec write side shared by every upload protocol.

    Storage options common to all protocols:

    ``max_concurrency``
        Part PUTs in flight at once, across all uploads of this filesystem.
    ``spool_threshold``
        Bytes a write of unknown size (or one part of a known-size write) keeps in memory
        before spilling to an unlinked temporary file in ``spool_dir``.
    ``chunk_size``
        Bytes read from a source and sent at a time within a part.
    ``retry``
        A :class:`~atai_fs.engine.retry.RetryPolicy` (or a dict of its fields).
    ``checkpoint_parts``, ``checkpoint_seconds``
        Batching of checkpoints of resumable uploads (default: an eighth of the parts,
        at least 8, or every 10 s).
    ``url_refresh_margin``
        Seconds before expiry at which presigned URLs are refreshed (in batches).
    ``verify_etag``
        Compare MD5 ETags with the MD5 of the bytes sent; resend a part on mismatch.
    ``resume_dir``
        Where resumable ``put_file`` keeps its small records of which local file an
        in-progress upload comes from (default ``~/.cache/atai_fs/uploads``).
    """

    #: Concrete subclasses set this in ``__init__``.
    http: HttpClient

    #: Whether the target can resume an interrupted upload (``put_file(resume=True)``).
    supports_resume: bool = False

    #: Environment variables the protocol reads its defaults from (part of the cache key).
    environment_variables: tuple[str, ...] = ()

    #: For :meth:`_connect` and messages: the service's name, the variables holding its
    #: key, endpoint and rate limit, and its public endpoint.
    service_name = "the API"
    api_key_variable: str | None = None
    endpoint_variable: str | None = None
    rate_limit_variable: str | None = None
    default_endpoint = ""
    _environment = _EnvironmentToken()
    _extra_tokenize_attributes = ("_environment",)

    def __init__(
        self,
        *,
        max_concurrency: int = 8,
        spool_threshold: int = 8 << 20,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        spool_dir: str | None = None,
        resume_dir: str | None = None,
        checkpoint_parts: int | None = None,
        checkpoint_seconds: float = 10.0,
        url_refresh_margin: float = 60.0,
        verify_etag: bool = True,
        retry: RetryPolicy | dict[str, Any] | None = None,
        asynchronous: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
        batch_size: int | None = None,
        **storage_options: Any,
    ) -> None:
        super().__init__(
            asynchronous=asynchronous, loop=loop, batch_size=batch_size, **storage_options
        )
        if isinstance(retry, dict):
            retry = RetryPolicy(**retry)
        self.transfer = TransferConfig(
            max_concurrency=int(max_concurrency),
            chunk_size=int(chunk_size),
            spool_threshold=int(spool_threshold),
            spool_dir=spool_dir,
            checkpoint_parts=None if checkpoint_parts is None else int(checkpoint_parts),
            checkpoint_seconds=float(checkpoint_seconds),
            url_refresh_margin=float(url_refresh_margin),
            verify_etag=flag_option(verify_etag, "verify_etag"),
            retry=retry or RetryPolicy(),
        )
        self._resume_journal = ResumeJournal(resume_dir)
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._limiters = weakref.WeakKeyDictionary()

    # -- shared set-up of protocols ----------------------------------------------------

    def _connect(
        self,
        *,
        api_key: str | None,
        endpoint_url: str | None,
        allow_http: Any,
        verify_tls: Any,
        timeouts: Timeouts | dict[str, Any] | None,
        check: Callable[..., str] = check_endpoint,
    ) -> None:
        """Resolve key and endpoint (argument, then environment, then default) and build
        the one :class:`~atai_fs.http.HttpClient` of this filesystem."""
        variable = self.api_key_variable
        self.api_key = api_key or (os.environ.get(variable) if variable else None) or None
        variable = self.endpoint_variable
        endpoint = (
            endpoint_url
            or (os.environ.get(variable) if variable else None)
            or self.default_endpoint
        )
        self.endpoint_url = check(endpoint, allow_http=flag_option(allow_http, "allow_http"))
        if isinstance(timeouts, dict):
            timeouts = Timeouts(**timeouts)
        self.http = HttpClient(
            api_base=self.endpoint_url,
            api_key=self.api_key,
            pool_size=self.transfer.max_concurrency + _CONTROL_CONNECTIONS,
            timeouts=timeouts,
            verify_tls=flag_option(verify_tls, "verify_tls"),
        )
        weakref.finalize(self, self.http.close_all_sync)

    def _rate_limit(self, option: Any, default: RateLimit | None) -> RateLimit | None:
        """The pacing of control-plane calls: the option (a ``RateLimit``, a dict, a string
        like ``"20/s,100/min"``, ``"off"`` or ``False``), else the protocol's environment
        variable, else ``default``."""
        if option is None and self.rate_limit_variable:
            option = os.environ.get(self.rate_limit_variable) or None
        if option is None:
            return default
        if option is False:
            return None
        if isinstance(option, str):
            return RateLimit.parse(option)
        if isinstance(option, dict):
            return RateLimit(**option)
        if isinstance(option, RateLimit):
            return option
        raise ConfigurationError(f"rate_limit must be a RateLimit, a dict or a string: {option!r}")

    def _require_key(self) -> None:
        """Refuse before any request when no key is configured, saying how to set one."""
        if not getattr(self, "api_key", None):
            raise ConfigurationError(
                f"no {self.service_name} API key: set the {self.api_key_variable} environment "
                "variable, or pass api_key=... (storage_options={'api_key': ...} in pandas "
                "and Dask)"
            )

    def __repr__(self) -> str:
        key = (
            ""
            if self.api_key_variable is None
            else (f", api_key=<{'set' if getattr(self, 'api_key', None) else 'missing'}>")
        )
        return f"{type(self).__name__}(endpoint_url={getattr(self, 'endpoint_url', None)!r}{key})"

    # -- to be provided by each protocol ----------------------------------------------

    def _make_target(self, path: str, **options: Any) -> UploadTarget:
        """The upload target for ``path`` (already stripped of the protocol)."""
        raise NotImplementedError

    # -- shared machinery --------------------------------------------------------------

    def _part_limiter(self) -> asyncio.Semaphore:
        """The semaphore bounding part PUTs of this filesystem in the running loop."""
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = asyncio.Semaphore(self.transfer.max_concurrency)
        return limiter

    def _uploader(
        self,
        target: UploadTarget,
        *,
        callback: Callback | None = None,
        resumable: bool = False,
    ) -> Uploader:
        return Uploader(
            target,
            limiter=self._part_limiter(),
            config=self.transfer,
            callback=callback,
            resumable=resumable,
        )

    def _write_name(self, path: str) -> str:
        """The stripped name for writing ``path``; refuses names that cannot be files."""
        raw = str(path)
        name = self._strip_protocol(raw)
        if not name or raw.endswith("/") or name == self.root_marker:
            raise InvalidRequest(
                f"cannot write to {raw!r}: a file name is required and must not end with "
                "'/'; to copy files into a directory use put(..., 'PROTOCOL://dir/')"
            )
        return name

    # -- fsspec write API --------------------------------------------------------------

    async def _put_file(
        self,
        lpath: str,
        rpath: str,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        resume: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Upload a local file, streaming parts straight from disk in parallel.

        With ``resume=True`` (the default where the API supports it) the upload is
        resumable: finished parts are checkpointed, a failure leaves the upload in
        progress (the error names it), and running the same ``put_file`` again sends
        only the parts the server does not have, provided the local file is unchanged.
        """
        name = self._write_name(rpath)
        await self._refuse_existing_if(mode, name)
        source = FileSource(lpath)
        try:
            uploader = self._uploader(self._make_target(name, **kwargs), callback=callback)
            if resume and self.supports_resume and not self._fits_one_request(uploader, source):
                result = await self._put_resumable(name, source, callback, kwargs)
            else:
                result = await self._upload_whole(uploader, source)
        finally:
            source.close()
        self.invalidate_cache(name)
        return result

    async def _put_resumable(
        self, name: str, source: FileSource, callback: Callback, options: dict[str, Any]
    ) -> Any:
        identity = LocalFileIdentity.of(source.path)
        destination = f"{self.protocol[0]}|{self.http.api_base}|{name}"
        target = self._make_target(name, resume=True, **options)
        uploader = self._uploader(target, callback=callback, resumable=True)
        try:
            plan = await uploader.initiate(source.size)
        except Conflict:
            # An upload of this name with another size or type is in progress: abandon
            # ours if we started it, then start afresh.
            await uploader.abandon(self._resume_journal.upload_id(destination))
            plan = await uploader.initiate(source.size, resume=False)
        if plan.is_resume and not self._resume_journal.matches(
            destination, plan.upload_id, identity
        ):
            # Resuming would splice parts of another file (or another version) onto ours.
            await uploader.abandon(plan.upload_id)
            plan = await uploader.initiate(source.size, resume=False)
        self._resume_journal.record(destination, plan.upload_id, identity)
        await uploader.adopt(plan, source.size)
        result = await uploader.send_and_finish(source)
        self._resume_journal.forget(destination)
        return result

    async def _pipe_file(
        self,
        path: str,
        value: bytes,
        mode: str = "overwrite",
        callback: Callback = DEFAULT_CALLBACK,
        **kwargs: Any,
    ) -> Any:
        """Upload bytes held in memory (no copy); ``callback`` gets byte progress."""
        name = self._write_name(path)
        await self._refuse_existing_if(mode, name)
        uploader = self._uploader(self._make_target(name, **kwargs), callback=callback)
        result = await self._upload_whole(uploader, BytesSource(value))
        self.invalidate_cache(name)
        return result

    async def _upload_whole(self, uploader: Uploader, source: PartSource) -> Any:
        """Upload a source whose bytes are all available; protocols may pick a cheaper
        route for small files (see :meth:`_fits_one_request`)."""
        return await uploader.upload(source)

    def _fits_one_request(self, uploader: Uploader, source: PartSource) -> bool:
        """Whether ``source`` goes up in a single request (then never resumable)."""
        return False

    async def _refuse_existing_if(self, mode: str, name: str) -> None:
        """fsspec's ``mode="create"``: refuse to replace an existing file."""
        if mode == "create" and await self._exists(name):
            raise FileExistsError(f"{self.protocol[0]}://{name} already exists (mode='create')")

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
        if mode == "rb":
            return self._open_read(
                path, block_size=block_size, cache_options=cache_options, **kwargs
            )
        if mode not in ("wb", "xb"):
            raise InvalidRequest(
                f"mode {mode!r} is not supported: upload targets take whole files, so open "
                "with 'wb' (or 'rb' to read)"
            )
        name = self._write_name(path)
        if mode == "xb" and self.exists(name):
            raise FileExistsError(f"{self.protocol[0]}://{name} already exists (mode 'xb')")
        target = self._make_target(name, **kwargs)
        # The uploader is created on the filesystem's loop, where its semaphore lives.
        uploader = self._run_on_loop(self._new_uploader_async(target))
        return UploadFile(
            self,
            name,
            uploader,
            mode="wb",
            size=size,
            autocommit=autocommit,
            block_size=block_size,
        )

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "w" in mode or "x" in mode:
            self._write_name(path)  # refuse "dir/" before fsspec strips the slash
        return super().open(path, mode=mode, **kwargs)

    async def _new_uploader_async(self, target: UploadTarget) -> Uploader:
        return self._uploader(target)

    def _run_on_loop(self, coroutine: Any) -> Any:
        return sync(self.loop, lambda: coroutine)

    def _open_read(self, path: str, **kwargs: Any) -> Any:
        raise InvalidRequest(f"{self.protocol[0]}:// files cannot be read back")

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Directories are implied by names containing '/': nothing to create."""

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Directories are implied by names containing '/': nothing to create."""
