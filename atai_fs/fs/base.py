"""A generic fsspec filesystem over any upload target.

:class:`UploadFileSystem` implements fsspec's write side (``open(..., "wb")``,
``put_file``, ``put``, ``pipe_file``) once, on top of the engine; each protocol adds a
small subclass that maps its options and paths onto its
:class:`~atai_fs.engine.target.UploadTarget` and, where the API allows, the read side.
The route an upload takes, its concurrency, retries and cleanup are the
:class:`~atai_fs.engine.uploader.Uploader`'s, never the filesystem's.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import os
import posixpath
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from fsspec.asyn import AsyncFileSystem
from fsspec.callbacks import DEFAULT_CALLBACK, Callback, NoOpCallback
from fsspec.compression import compr
from fsspec.utils import infer_compression

from ..advice import in_pandas, pass_options
from ..engine.concurrency import PartConcurrency
from ..engine.config import TransferConfig, coerce, parse_flag, plain_config, refuse_unknown
from ..engine.integrity import EtagCheck
from ..engine.ratelimit import RateLimit, RateLimiter, shared_state_file
from ..engine.resume import ResumeJournal, default_limits_dir
from ..engine.retry import RetryPolicy
from ..engine.sources import BytesSource, FileSource, PartSource
from ..engine.target import Completion, UploadTarget
from ..engine.uploader import Uploader, collect_left_resumable
from ..errors import AtaiFsError, ConfigurationError, InvalidRequest
from ..http import HttpClient, Timeouts, check_endpoint
from ..targets.content_types import compressed_type
from .async_file import AsyncReadFile, AsyncUploadFile
from .blocking import interruptible, run_blocking
from .progress_bar import TransferBar
from .read_file import RangeReadFile
from .upload_file import CompressedUpload, UploadFile

__all__ = ["UploadFileSystem", "Write", "checked_options"]

T = TypeVar("T")

#: Options fsspec itself takes (listings cache, event loop); everything else is ours.
FSSPEC_OPTIONS = frozenset(
    {
        "asynchronous",
        "loop",
        "batch_size",
        "use_listings_cache",
        "listings_expiry_time",
        "max_paths",
    }
)

#: How :meth:`UploadFileSystem.open` tells ``_open`` (through fsspec) that fsspec wraps
#: the file in a compressor.
_COMPRESSION_OPTION = "_atai_fs_compression"

#: Connections beyond the part PUTs, for control-plane calls made meanwhile.
_CONTROL_CONNECTIONS = 4


def keyword_names(function: Any) -> list[str]:
    """The keyword parameters ``function`` takes (its options)."""
    return [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("self", "path")
    ]


def checked_options(function: Any, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` if ``function`` takes every one of them; else a
    :class:`~atai_fs.errors.ConfigurationError` naming the closest valid one (a misspelt
    ``file_tpye=`` must not be silently ignored)."""
    refuse_unknown(
        options, keyword_names(function), f"{getattr(function, '__qualname__', function)}"
    )
    return options


@dataclass(frozen=True)
class Write:
    """One write as the filesystem was asked for it: the ``name``, the call's keyword
    ``options``, fsspec's ``mode`` (``"create"`` refuses to replace; checked already by
    :meth:`UploadFileSystem._refuse_existing_if` where the filesystem can tell), and the
    ``local_path`` of a ``put_file``."""

    name: str
    options: dict[str, Any]
    mode: str = "overwrite"
    local_path: str | None = None
    #: The compression of fsspec's wrapper around the file (``open(compression=...)``):
    #: the bytes the target receives are compressed, whatever the name says.
    compression: str | None = None


class _DeferredWrite:
    """A ``put_file`` or ``pipe_file`` made inside an fsspec transaction: its parts are
    sent, and the transaction commits it (publishes) or discards it (aborts), as it
    does the files opened inside it."""

    def __init__(
        self, fs: UploadFileSystem, name: str, uploader: Uploader, source: PartSource
    ) -> None:
        self._fs = fs
        self._name = name
        self._uploader = uploader
        self._source = source

    def commit(self) -> None:
        try:
            result = self._fs._run_on_loop(self._uploader.publish())
        finally:
            self._source.close()
        self._fs._published(self._name, result)

    def discard(self) -> None:
        try:
            self._fs._run_on_loop(self._uploader.discard())
        finally:
            self._source.close()


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


#: The tasks of the files of one ``put`` of many (each ``_put_file`` adds its own), so
#: that a failed ``put`` stops and waits for the others.
_PUT_SIBLINGS: contextvars.ContextVar[set[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "atai_fs_put_siblings", default=None
)


class UploadFileSystem(AsyncFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """fsspec write side shared by every upload protocol.

    Storage options common to all protocols: ``api_key`` and ``endpoint_url`` (each
    protocol says its defaults), ``allow_http`` (plain ``http://`` to a non-loopback
    host), ``verify_tls``, ``timeouts`` (a :class:`~atai_fs.http.Timeouts`, a dict, or
    seconds for every phase), ``rate_limit`` (the pace of control-plane calls: a
    :class:`~atai_fs.engine.ratelimit.RateLimit`, a dict, a string such as
    ``"20/s,100/min"``, or ``"off"``; ``share_rate_limit``, default true, makes the
    processes of this machine that use the same key on the same API share one budget,
    through a small locked file), and the engine's knobs (each a field of
    :class:`~atai_fs.engine.config.TransferConfig`, which may be passed whole as
    ``transfer=``):

    ``max_concurrency``, ``initial_concurrency``, ``adaptive``
        Part PUTs in flight at once, across all uploads of this filesystem: from
        ``initial_concurrency`` (32) up to ``max_concurrency`` (80), as far as the
        throughput keeps rising, and down when the storage says it is overloaded;
        ``adaptive=False`` pins them at ``max_concurrency``.
    ``spool_threshold``
        Bytes a write keeps in memory before spilling to an unlinked temporary file in
        ``spool_dir``.
    ``chunk_size``
        At most this many bytes are read from a source and sent at a time within a part
        (fewer when many parts are in flight: they share 16 MiB of chunks).
    ``retry``
        The :class:`~atai_fs.engine.retry.RetryPolicy` (or a dict or string of its fields).
    ``checkpoint_parts``, ``checkpoint_seconds``
        Batching of checkpoints of resumable uploads (default: an eighth of the parts,
        at least 8, or every 10 s).
    ``url_refresh_margin``
        Seconds before expiry at which presigned URLs are refreshed (in batches).
    ``verify_etag``
        ``"auto"`` (default): compare MD5 ETags with the MD5 of the bytes sent and resend
        a part on mismatch, until the storage shows its ETags are not MD5s; ``True``:
        always; ``False``: never (see :mod:`atai_fs.engine.integrity`).
    ``hash_in_threads``
        Checksum large chunks in a worker thread beside the event loop (default: on
        machines with 4 cores or more, where it pays).
    ``resume_dir``
        Where resumable ``put_file`` keeps its small records of which local file an
        in-progress upload comes from (default ``~/.cache/atai_fs/uploads``).
    ``progress``
        ``True``: every transfer of this filesystem that is given no ``callback=``
        draws a tqdm bar (file name, bytes, rate) on stderr, or in a notebook, including
        files written through ``open()`` (pandas ``to_parquet``, DuckDB ``COPY``, Dask),
        which fsspec gives no callback.  Also ``FSSPEC_<PROTOCOL>_PROGRESS=true``;
        ``TQDM_DISABLE=1`` hides the bars.

    An unknown option raises :class:`~atai_fs.errors.ConfigurationError` naming the
    closest valid one.
    """

    #: Concrete subclasses set this in ``__init__`` (see :meth:`_connect`).
    http: HttpClient

    #: Whether ``put_file`` may leave an upload resumable (the target implements resume).
    supports_resume: ClassVar[bool] = False

    #: Whether files can be read back (``open(path, "rb")``, ``cat_file``).
    readable: ClassVar[bool] = False

    #: Environment variables the protocol reads its defaults from (part of the cache key).
    environment_variables: ClassVar[tuple[str, ...]] = ()

    #: For :meth:`_connect` and messages: the service's name, the variables holding its
    #: key, endpoint and rate limit, and its public endpoint.
    service_name: ClassVar[str] = "the API"
    api_key_variable: ClassVar[str | None] = None
    endpoint_variable: ClassVar[str | None] = None
    rate_limit_variable: ClassVar[str | None] = None
    default_endpoint: ClassVar[str] = ""
    #: Whether ``put_file`` and ``pipe_file`` inside a transaction wait for its commit.
    defers_in_transactions: ClassVar[bool] = True
    #: Whether ``put`` of many files is one batch of the API (not one ``put_file`` each),
    #: so a tool copying many files hands them to one ``put``.
    uploads_in_batches: ClassVar[bool] = False
    #: Whether ``put(local_dir, ..., recursive=True)`` uploads the tree whole (one
    #: archive, published at once), so a tool copying a directory hands it over whole.
    uploads_directories_whole: ClassVar[bool] = False
    #: Whether writes take a ``content_type`` option (the MIME type the API stores).
    declares_types: ClassVar[bool] = False
    #: What plain http to the endpoint would expose (for the refusal's message).
    endpoint_carries: ClassVar[str] = "the API key"
    _environment = _EnvironmentToken()
    _extra_tokenize_attributes = ("_environment",)

    def __init__(
        self,
        *,
        api_key: str | None = None,
        endpoint_url: str | None = None,
        allow_http: bool = False,
        verify_tls: bool = True,
        timeouts: Timeouts | Mapping[str, Any] | float | str | None = None,
        rate_limit: RateLimit | Mapping[str, Any] | str | bool | None = None,
        share_rate_limit: bool = True,
        transfer: TransferConfig | Mapping[str, Any] | str | None = None,
        resume_dir: str | None = None,
        progress: bool | str = False,
        **options: Any,
    ) -> None:
        ours = {k: v for k, v in options.items() if k not in FSSPEC_OPTIONS}
        refuse_unknown(
            ours,
            self.option_names(),
            f"{self.protocol[0]}:// ({type(self).__name__})",
            unlisted=FSSPEC_OPTIONS,
        )
        ours = {k: v for k, v in ours.items() if v is not None}  # None: the default
        if "retry" in ours:
            ours["retry"] = coerce(RetryPolicy, ours["retry"], "retry")
        base = (
            TransferConfig() if transfer is None else coerce(TransferConfig, transfer, "transfer")
        )
        self.transfer: TransferConfig = base.with_options(ours)
        super().__init__(**{k: v for k, v in options.items() if k in FSSPEC_OPTIONS})
        self._resume_journal = ResumeJournal(resume_dir)
        #: Whether transfers given no callback draw a bar (see the class docstring).
        self.progress = parse_flag(progress, "progress")
        #: What uploads learned of the storage's ETags (MD5s or opaque), shared by all.
        self._etags = EtagCheck(self.transfer.verify_etag)
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PartConcurrency]
        self._slots = weakref.WeakKeyDictionary()
        if api_key and self.api_key_variable is None:
            raise ConfigurationError(f"{self.protocol[0]}:// takes no api_key: its API has no keys")
        self._connect(
            api_key=api_key,
            endpoint_url=endpoint_url,
            allow_http=allow_http,
            verify_tls=verify_tls,
            timeouts=timeouts,
        )
        limit = self._rate_limit(rate_limit, self.default_rate_limit())
        shared = None
        if limit is not None and parse_flag(share_rate_limit, "share_rate_limit"):
            shared = shared_state_file(self.endpoint_url, self.api_key, default_limits_dir())
        self.rate_limiter = RateLimiter(limit, shared_state=shared)

    @classmethod
    def option_names(cls) -> list[str]:
        """Every storage option this protocol takes (for messages and checks)."""
        names: set[str] = set(TransferConfig.option_names()) | FSSPEC_OPTIONS
        for klass in cls.__mro__:
            if issubclass(klass, UploadFileSystem):
                parameters = inspect.signature(klass.__init__).parameters.values()
                names |= {
                    p.name
                    for p in parameters
                    if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
                }
        return sorted(names)

    def to_dict(self, *, include_password: bool = True) -> dict[str, Any]:
        """fsspec's JSON form, with config objects as their dicts (which the constructor
        takes back); without passwords, the API key is left out too."""
        from fsspec.json import FilesystemJSONEncoder

        encoder = FilesystemJSONEncoder()
        options = {
            key: plain_config(value)
            if dataclasses.is_dataclass(value)
            else encoder.make_serializable(value)
            for key, value in self.storage_options.items()
            if include_password or key not in ("api_key", "password")
        }
        cls = type(self)
        return dict(
            cls=f"{cls.__module__}:{cls.__name__}",
            protocol=self.protocol[0],
            args=encoder.make_serializable(self.storage_args),
            **options,
        )

    @property
    def retry(self) -> RetryPolicy:
        """The one retry policy of every call and part of this filesystem."""
        return self.transfer.retry

    # -- shared set-up of protocols ----------------------------------------------------

    def _connect(
        self,
        *,
        api_key: str | None,
        endpoint_url: str | None,
        allow_http: Any,
        verify_tls: Any,
        timeouts: Timeouts | Mapping[str, Any] | float | str | None,
    ) -> None:
        """Resolve key and endpoint (argument, then environment, then default) and build
        the one :class:`~atai_fs.http.HttpClient` of this filesystem."""
        if api_key is not None and not isinstance(api_key, str):
            # The value is not shown: it is meant to be a secret.
            raise ConfigurationError(
                f"api_key must be a string, not {type(api_key).__name__} (its value is not shown)"
            )
        variable = self.api_key_variable
        self.api_key = api_key or (os.environ.get(variable) if variable else None) or None
        variable = self.endpoint_variable
        endpoint = (
            endpoint_url
            or (os.environ.get(variable) if variable else None)
            or self.default_endpoint
        )
        plain_http = parse_flag(allow_http, "allow_http")
        self.endpoint_url = check_endpoint(
            endpoint, allow_http=plain_http, carries=self.endpoint_carries
        )
        self.http = HttpClient(
            api_base=self.endpoint_url,
            api_key=self.api_key,
            pool_size=self.transfer.max_concurrency + _CONTROL_CONNECTIONS,
            timeouts=None if timeouts is None else coerce(Timeouts, timeouts, "timeouts"),
            verify_tls=parse_flag(verify_tls, "verify_tls"),
            allow_http=plain_http,
        )
        weakref.finalize(self, self.http.close_all_sync)

    def default_rate_limit(self) -> RateLimit | None:
        """The pace of control-plane calls when no option or variable sets one."""
        return None

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
        if isinstance(option, str) and option.strip().lower() in ("off", "none", "0", "false"):
            return None
        return coerce(RateLimit, option, "rate_limit")

    def _require_key(self) -> None:
        """Refuse before any request when no key is configured, saying how to set one."""
        if not getattr(self, "api_key", None):
            raise ConfigurationError(
                f"no {self.service_name} API key: set the {self.api_key_variable} environment "
                f"variable, or {pass_options(('api_key', ...))}{in_pandas('api_key')}"
            )

    def __repr__(self) -> str:
        key = (
            ""
            if self.api_key_variable is None
            else (f", api_key=<{'set' if getattr(self, 'api_key', None) else 'missing'}>")
        )
        return f"{type(self).__name__}(endpoint_url={getattr(self, 'endpoint_url', None)!r}{key})"

    # -- to be provided by each protocol ----------------------------------------------

    def _make_target(self, *args: Any, **options: Any) -> UploadTarget:
        """The upload target for a path (already stripped of the protocol); per-call
        ``options`` are the protocol's keywords, each checked by :meth:`_target`."""
        raise NotImplementedError

    def _target(self, name: str, options: dict[str, Any]) -> UploadTarget:
        """The target for writing ``name`` with per-call ``options``, each checked."""
        return self._make_target(name, **checked_options(self._make_target, options))

    def _write_target(self, write: Write) -> UploadTarget:
        """The target of one write; protocols that make more of it override this.

        A compressed write (a ``compression=`` wrapper) is declared as its compression's
        MIME type unless the call names a type itself.
        """
        options = write.options
        typed = any(options.get(name) for name in ("file_type", "content_type"))
        if write.compression and not typed and self.declares_types:
            options = {**options, "content_type": compressed_type(write.compression)}
        return self._target(write.name, options)

    def _published(self, name: str, result: Completion) -> None:
        """A file became visible: forget cached listings (protocols may record more)."""
        self.invalidate_cache(name)

    # -- shared machinery --------------------------------------------------------------

    @property
    def part_concurrency(self) -> PartConcurrency | None:
        """The part-concurrency controller of this filesystem's event loop, once an upload
        ran: its ``limit``, ``settled`` level and ``history`` show what it found."""
        return self._slots.get(self.loop)

    def _part_slots(self) -> PartConcurrency:
        """The one part-concurrency controller of this filesystem in the running loop,
        shared by all its uploads."""
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            config = self.transfer
            slots = self._slots[loop] = PartConcurrency(
                config.max_concurrency,
                initial=config.initial_concurrency,
                adaptive=config.adaptive,
            )
        return slots

    def _uploader(
        self,
        target: UploadTarget,
        *,
        callback: Callback | None = None,
        config: TransferConfig | None = None,
    ) -> Uploader:
        """The uploader of one target (call it on the loop the upload runs on)."""
        config = config or self.transfer
        etags = self._etags if config.verify_etag == self.transfer.verify_etag else None
        return Uploader(
            target,
            slots=self._part_slots(),
            config=config,
            callback=self._progress_callback(callback, target.description),
            etags=etags,
        )

    def _progress_callback(self, callback: Callback | None, label: str) -> Callback | None:
        """``callback`` if the caller passed one; else, with ``progress=True``, a bar
        labelled ``label`` that closes when its transfer ends."""
        if callback is not None and not isinstance(callback, NoOpCallback):
            return callback
        return TransferBar(label) if self.progress else callback

    def _call_config(self, options: dict[str, Any]) -> TransferConfig:
        """The engine options of one call (``retry=``, ``verify_etag=``, ``chunk_size=``...)
        over the filesystem's; they are taken out of ``options``."""
        names = TransferConfig.option_names()
        overrides = {name: options.pop(name) for name in list(options) if name in names}
        if overrides.get("retry") is not None:
            overrides["retry"] = coerce(RetryPolicy, overrides["retry"], "retry")
        return self.transfer.with_options(overrides)

    def check_name(self, path: str) -> str:
        """The name ``path`` would be written as, or the :class:`InvalidRequest` a write
        to it would raise (what ``--dry-run`` checks before saying it would copy)."""
        return self._write_name(path)

    def _write_name(self, path: str) -> str:
        """The stripped name for writing ``path``; refuses names that cannot be files."""
        raw = str(path)
        name: str = self._strip_protocol(raw)
        if not name or raw.endswith("/") or name == self.root_marker:
            raise InvalidRequest(
                f"cannot write to {raw!r}: a file name is required and must not end with "
                "'/'; to copy files into a directory use put(..., 'PROTOCOL://dir/')"
            )
        if any(segment in ("", ".", "..") for segment in name.strip("/").split("/")):
            # Object stores keep '..' as two literal dots and '//' as an empty segment, so
            # 'x/../y.txt' or 'd//e.txt' would be stored under a name no listing of 'x/' or
            # 'd/' shows (nor a recursive rm removes): refuse, naming the fix.
            resolved = posixpath.normpath(name).lstrip("/")
            fix = (
                f"write to '{self.protocol[0]}://{resolved}'"
                if resolved not in ("", ".") and not resolved.startswith("..")
                else "name the file without '.' or '..' segments"
            )
            raise InvalidRequest(
                f"cannot write to {raw!r}: '.', '..' and empty ('//') segments are not "
                f"resolved in remote names; {fix}"
            )
        return name

    def _destination(self, target: UploadTarget) -> str:
        """The key of a resume record: this API's endpoint and the target."""
        return f"{self.endpoint_url}|{target.description}"

    def _run_on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return run_blocking(self.loop, coroutine)

    # -- fsspec write API --------------------------------------------------------------

    async def _put_file(
        self,
        lpath: str,
        rpath: str,
        callback: Callback = DEFAULT_CALLBACK,
        mode: str = "overwrite",
        resume: bool = True,
        **options: Any,
    ) -> Completion | None:
        """Upload a local file, streaming parts straight from disk in parallel.

        With ``resume=True`` (the default where the API supports it) the upload is
        resumable: finished parts are checkpointed, a failure leaves the upload in
        progress (the error names it), and running the same ``put_file`` again sends
        only the parts the server does not have, provided the local file is unchanged.
        """
        if os.path.isdir(lpath):
            return None  # directories are implied by the files put into them
        siblings = _PUT_SIBLINGS.get()
        task = asyncio.current_task()
        if siblings is not None and task is not None:
            siblings.add(task)  # so a failed put can stop and wait for it
        name = self._write_name(rpath)
        await self._refuse_existing_if(mode, name)
        config = self._call_config(options)
        target = self._write_target(Write(name, options, mode, local_path=lpath))
        source = FileSource(lpath)
        uploader = self._uploader(target, callback=callback, config=config)
        if self._defers(name):
            await self._defer(name, uploader, source)
            return None  # published at the transaction's commit
        try:
            if resume and self.supports_resume and uploader.streams(source.size):
                result = await uploader.upload_resumable(
                    source, self._resume_journal, self._destination(target)
                )
            else:
                result = await uploader.upload(source)
        finally:
            source.close()
        self._published(name, result)
        return result

    async def _pipe_file(
        self,
        path: str,
        value: bytes,
        mode: str = "overwrite",
        callback: Callback = DEFAULT_CALLBACK,
        **options: Any,
    ) -> Completion | None:
        """Upload bytes held in memory (no copy); ``callback`` gets byte progress."""
        name = self._write_name(path)
        await self._refuse_existing_if(mode, name)
        config = self._call_config(options)
        target = self._write_target(Write(name, options, mode))
        uploader = self._uploader(target, callback=callback, config=config)
        if self._defers(name):
            await self._defer(name, uploader, BytesSource(value))
            return None  # published at the transaction's commit
        result = await uploader.upload(BytesSource(value))
        self._published(name, result)
        return result

    def _defers(self, name: str) -> bool:
        """Whether a write is inside an fsspec transaction (published at its commit)."""
        return bool(self._intrans) and self.defers_in_transactions

    async def _defer(self, name: str, uploader: Uploader, source: PartSource) -> None:
        """Send everything now, publish at the transaction's commit (or abort at its
        rollback); a resumable upload is not resumable inside a transaction."""
        try:
            await uploader.stage(source)
        except BaseException:
            source.close()
            raise
        self.transaction.files.append(_DeferredWrite(self, name, uploader, source))

    async def _put(
        self, lpath: Any, rpath: Any, recursive: bool = False, **kwargs: Any
    ) -> Completion | list[Any] | None:
        """fsspec's ``put`` of many files; when one fails and fsspec cancels the others,
        each of those is aborted or left resumable, and the error lists the latter."""
        siblings: set[asyncio.Task[Any]] = set()
        token = _PUT_SIBLINGS.set(siblings)
        with collect_left_resumable() as left:
            try:
                result: list[Any] | None = await super()._put(lpath, rpath, recursive, **kwargs)
                return result
            except BaseException as exc:
                # fsspec raises the first failure and leaves the other files running:
                # stop them and wait for their cleanup, so each is aborted or left
                # resumable (and listed) before the caller hears of the failure.
                running = [t for t in siblings if not t.done() and t is not asyncio.current_task()]
                for sibling in running:
                    sibling.cancel()
                await asyncio.gather(*running, return_exceptions=True)
                if not left or not isinstance(exc, AtaiFsError):
                    raise
                listed = "; ".join(left)
                raise exc.annotated(f"[the other uploads stopped with it: {listed}]") from exc
            finally:
                _PUT_SIBLINGS.reset(token)

    # The blocking API: an interrupt (Ctrl-C) cancels the call and waits for its cleanup.
    put_file = interruptible("_put_file")
    pipe_file = interruptible("_pipe_file")
    put = interruptible("_put")
    pipe = interruptible("_pipe")
    get_file = interruptible("_get_file")
    get = interruptible("_get")
    cat_file = interruptible("_cat_file")
    cp_file = interruptible("_cp_file")

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
        **options: Any,
    ) -> UploadFile | RangeReadFile:
        if mode == "rb":
            return self._open_read(
                path, block_size=block_size, cache_options=cache_options, size=size, **options
            )
        if mode not in ("wb", "xb"):
            raise InvalidRequest(
                f"mode {mode!r} is not supported: upload targets take whole files, so open "
                "with 'wb' (or 'rb' to read)"
            )
        name = self._write_name(path)
        if mode == "xb" and self.exists(name):
            raise FileExistsError(f"{self.protocol[0]}://{name} already exists (mode 'xb')")
        config = self._call_config(options)
        compression = options.pop(_COMPRESSION_OPTION, None)
        callback = options.pop("callback", None)
        write_mode = "create" if mode == "xb" else "overwrite"
        target = self._write_target(Write(name, options, write_mode, compression=compression))
        return self._upload_file(name, target, size, autocommit, block_size, config, callback)

    def _upload_file(
        self,
        name: str,
        target: UploadTarget,
        size: int | None,
        autocommit: bool,
        block_size: int | None,
        config: TransferConfig,
        callback: Callback | None = None,
    ) -> UploadFile:
        """The writable file of ``target`` (its uploader made on the filesystem's loop,
        where the part semaphore lives); ``callback`` hears its bytes as they are sent."""

        async def make() -> Uploader:
            return self._uploader(target, config=config, callback=callback)

        return UploadFile(
            self,
            name,
            self._run_on_loop(make()),
            loop=self.loop,
            size=size,
            autocommit=autocommit,
            block_size=block_size,
            on_published=lambda result: self._published(name, result),
        )

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if self.asynchronous:
            raise NotImplementedError(
                f"open() blocks, and this filesystem is asynchronous (asynchronous=True): "
                f"use `await fs.open_async({str(path)!r}, {mode!r})` (see docs/async.md)"
            )
        if "w" in mode or "x" in mode:
            self._write_name(path)  # refuse "dir/" before fsspec strips the slash
            compression = kwargs.pop("compression", None)
            if compression == "infer":
                compression = infer_compression(str(path))
            if compression and "b" in mode:
                # Tell the target what it receives, and close the upload with the
                # compressor (fsspec's wrapper would leave it unclosed, so never sent).
                kwargs[_COMPRESSION_OPTION] = compression
                upload = super().open(path, mode=mode, **kwargs)
                return CompressedUpload(compr[compression](upload, mode="wb"), upload)
            kwargs["compression"] = compression
        return super().open(path, mode=mode, **kwargs)

    def _open_read(self, path: str, **options: Any) -> RangeReadFile:
        """A file opened for reading; by default there is no read side."""
        raise InvalidRequest(f"{self.protocol[0]}:// files cannot be read back")

    # -- async use -----------------------------------------------------------------------

    async def open_async(
        self,
        path: str,
        mode: str = "rb",
        *,
        size: int | None = None,
        callback: Callback | None = None,
        **options: Any,
    ) -> AsyncUploadFile | AsyncReadFile:
        """Open a file from async code, on the running event loop.

        Parameters
        ----------
        path:
            The file, with or without the protocol.
        mode:
            ``"wb"`` (or ``"xb"``, refusing to replace a file) to upload, ``"rb"`` to
            read where the API has a read side.
        size:
            For ``"wb"``: the exact total, if known; parts are then sent while writing
            (else the bytes are spooled and sent at close).
        callback:
            An fsspec callback told the upload's bytes as they are sent.
        **options:
            The per-write options of ``open`` (``content_type=``, ``retry=``...).

        Returns
        -------
        AsyncUploadFile | AsyncReadFile
            ``await f.write(data)``, ``await f.close()`` (publishes), ``async with``
            (an exception aborts the upload); or ``await f.read(n)``.

        Raises
        ------
        InvalidRequest
            Another mode, compression, or a name that cannot be a file.
        FileExistsError
            ``"xb"`` and the file exists.
        """
        if options.pop("compression", None):
            raise InvalidRequest(
                "open_async takes no compression: compress the bytes before writing them"
            )
        if mode == "rb":
            if not self.readable:
                self._open_read(path)  # the protocol's own refusal: it has no read side
            name = self._strip_protocol(path)
            info = await self._info(name)
            if info["type"] != "file":
                raise IsADirectoryError(f"{self.protocol[0]}://{name} is a directory")
            return AsyncReadFile(self, name, size=info["size"])
        if mode not in ("wb", "xb"):
            raise InvalidRequest(
                f"mode {mode!r} is not supported: upload targets take whole files, so open "
                "with 'wb' (or 'rb' to read)"
            )
        name = self._write_name(path)
        write_mode = "create" if mode == "xb" else "overwrite"
        await self._refuse_existing_if(write_mode, name)
        config = self._call_config(options)
        target = self._write_target(Write(name, options, write_mode))
        uploader = self._uploader(target, callback=callback, config=config)
        return await AsyncUploadFile.open(
            name, uploader, size=size, on_published=lambda result: self._published(name, result)
        )

    async def close_session(self) -> None:
        """Close this filesystem's HTTP session on the running event loop.

        An asynchronous filesystem (``asynchronous=True``) runs on its caller's loop;
        close it before that loop ends (or use ``async with fs:``), or aiohttp warns of
        an unclosed session.  A later call opens a new session.
        """
        await self.http.close()

    async def __aenter__(self) -> UploadFileSystem:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close_session()

    async def _makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Directories are implied by names containing '/': nothing to create."""

    async def _mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Directories are implied by names containing '/': nothing to create."""
