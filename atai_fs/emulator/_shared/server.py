"""Serving an emulator's application: in a background thread (tests, notebooks) or in the
foreground (CLI)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar, get_args, get_origin

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .config import ServedConfig
from .faults import BaseFault, BaseFaultInjector
from .stats import EmulatorStats

_SHUTDOWN_TIMEOUT = 5.0
"""Seconds in-flight requests get to finish when the server stops."""

_CALL_TIMEOUT = 30.0
"""Seconds a test thread waits for a function run on the server loop."""

C = TypeVar("C", bound=ServedConfig[Any])
FI = TypeVar("FI", bound=BaseFaultInjector[Any])
AppBuilder = Callable[[C, EmulatorStats, FI], web.Application]
"""How an API's application is built from its configuration, counters and faults."""

_TEMPORARY = Path()
"""The ``data_dir`` of an emulator given none: :meth:`BackgroundServer.start` replaces it
by a fresh temporary directory each time."""

T = TypeVar("T")
_S = TypeVar("_S", bound="BackgroundServer[Any, Any]")

access_log = logging.getLogger("atai_fs.emulator.access")
"""One line per request when ``access_log=True`` (see :class:`RequestLog`)."""


class RequestLog(AbstractAccessLogger):
    """``GET /v0.5/files/metadata 200 1234 B 3.1 ms``: method, path, status, bytes,
    duration.  The path only: query strings carry URL signatures, and no header (the
    API key) is ever written."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %d %d B %.1f ms",
            request.method,
            request.path,
            response.status,
            response.body_length,
            time * 1000,
        )


class BackgroundServer(Generic[C, FI]):
    """An ``aiohttp.web`` application served from a background thread on loopback.

    The lifecycle shared by every emulator: :meth:`start` returns once the port is bound
    (or raises what prevented it), :meth:`stop` gives in-flight requests a few seconds
    and removes a temporary ``data_dir``. A subclass names its configuration and fault
    injector classes once, as its type arguments (``BackgroundServer[EmulatorConfig,
    FaultInjector]``), and sets ``_build_app``; the keyword options are the fields of that
    configuration, so they are declared, defaulted and checked there only.
    """

    _config_type: type[C]
    """The API's configuration (the first type argument): every keyword option is a field."""
    _injector_type: type[FI]
    """The API's fault injector (the second type argument), ``emu.faults``."""
    _build_app: AppBuilder[C, FI]
    """How the API's application is built (a ``staticmethod`` of its ``build_*_app``)."""

    _thread_name = "emulator"
    _api_prefix = ""
    """Path of the API under ``http://HOST:PORT`` (what clients take as endpoint URL)."""
    _title = "emulator"
    """What the foreground banner calls it: "<title> listening on <endpoint URL>"."""
    _environment: tuple[str | None, str] = (None, "")
    """The variables clients read the key and the endpoint URL from (key first; ``None``
    for an API without keys), for the banner's ready-to-paste ``export`` line."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take the configuration and injector classes from the subclass's type arguments."""
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):
            if get_origin(base) is BackgroundServer:
                cls._config_type, cls._injector_type = get_args(base)

    def __init__(
        self,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: Iterable[BaseFault | str] = (),
        access_log: bool = False,
        **options: Any,
    ) -> None:
        # Built here, so a bad or unknown option fails in the caller's thread (the
        # configuration's TypeError or ValueError names it), not in the server's.
        self._config = self._config_type(
            data_dir=Path(data_dir) if data_dir is not None else _TEMPORARY,
            faults=tuple(faults),
            **options,
        )
        self._temporary = data_dir is None
        """``data_dir`` is a fresh temporary directory at each start, removed at stop."""
        self._access_log = access_log
        """Log one line per request to :data:`access_log` (``atai-fs serve --access-log``)."""
        self.host = host
        self._requested_port = port
        self.stats = EmulatorStats()
        """Live counters (``requests_by_route``, ``part_puts``, ``bytes_received`` ...)."""
        self.faults = self._injector_type(
            self._config.faults, self._config.seed, self._config.clock
        )
        """Faults to inject while serving: ``emu.faults.add(route=..., action=...)``,
        ``.clear()``, ``.fired``; it starts with ``faults`` of the configuration."""
        self.port: int | None = None
        self._app: web.Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    # -- public view -----------------------------------------------------------------
    @property
    def config(self) -> C:
        return self._config

    @property
    def data_dir(self) -> Path:
        return self._config.data_dir

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT`` plus the API's path: what clients take as endpoint URL."""
        if self.port is None:
            raise RuntimeError("the emulator is not running; call start() or use 'with'")
        return f"http://{self.host}:{self.port}{self._api_prefix}"

    @property
    def api_key(self) -> str:
        """The key clients must send (the configuration's; keyless APIs have none)."""
        key = getattr(self._config, "api_key", None)
        if not isinstance(key, str):
            raise AttributeError(f"{type(self).__name__} serves an API without keys")
        return key

    def __repr__(self) -> str:
        where = self.endpoint_url if self.port is not None else "stopped"
        return f"{type(self).__name__}({where}, data_dir={str(self.data_dir)!r})"

    # -- lifecycle -------------------------------------------------------------------
    def start(self: _S) -> _S:
        """Start serving; returns once the port is bound (or raises what prevented it)."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        if self._temporary:
            tmp = Path(tempfile.mkdtemp(prefix="atai-emulator-"))
            self._config = dataclasses.replace(self._config, data_dir=tmp)
        self._startup_error = None
        self.faults.start()  # the windows of the initial faults count from now
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=self._thread_name, daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            self._remove_temporary_dir()
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving (in-flight requests get a few seconds) and remove a temporary data_dir."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        self.port = None
        self._remove_temporary_dir()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def serve_in_foreground(self) -> None:
        """For the CLI: start, print the endpoint URL and the ``export`` line of the
        clients' variables, serve until Ctrl-C or SIGTERM (``kill``, ``timeout``, ``docker
        stop``); either way the server stops and a temporary data directory is removed."""
        if self._access_log and not access_log.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            access_log.addHandler(handler)
            access_log.setLevel(logging.INFO)
            access_log.propagate = False
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
        try:
            self.start()
            print(f"{self._title} listening on {self.endpoint_url} ({self._details()})", flush=True)
            print(self.export_line(), flush=True)
            threading.Event().wait()  # the server runs in its thread until interrupted
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            if main_thread:
                signal.signal(signal.SIGTERM, previous)

    def export_line(self) -> str:
        """``export ATAI_API_KEY=... ATAI_API_ENDPOINT=http://...``: what a shell needs for
        clients to use this emulator."""
        key_variable, endpoint_variable = self._environment
        assignments = [f"{endpoint_variable}={shlex.quote(self.endpoint_url)}"]
        if key_variable is not None:
            assignments.insert(0, f"{key_variable}={shlex.quote(self.api_key)}")
        return "export " + " ".join(assignments)

    def _details(self) -> str:
        """What the foreground banner says after the endpoint URL."""
        return f"data_dir: {self.data_dir}"

    # -- state of the running application ----------------------------------------------
    def _state(self, key: web.AppKey[T]) -> T:
        """What the running application holds under ``key``."""
        if self._app is None:
            raise RuntimeError("the emulator is not running; call start() or use 'with'")
        return self._app[key]

    def _state_if_running(self, key: web.AppKey[T]) -> T | None:
        return self._app[key] if self._app is not None else None

    def _call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server loop, for state only that loop may touch."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return function()

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=_CALL_TIMEOUT)

    # -- server thread ---------------------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        runner: web.AppRunner | None = None
        try:
            try:
                self._app = self._build_app(self._config, self.stats, self.faults)
                runner = web.AppRunner(
                    self._app,
                    access_log=access_log if self._access_log else None,
                    access_log_class=RequestLog,
                    shutdown_timeout=_SHUTDOWN_TIMEOUT,
                )
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, self.host, self._requested_port)
                loop.run_until_complete(site.start())
                self.port = runner.addresses[0][1]
            except BaseException as exc:
                self._startup_error = exc
                return
            finally:
                ready.set()
            loop.run_forever()
        finally:
            if runner is not None:
                loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _remove_temporary_dir(self) -> None:
        if self._temporary:
            shutil.rmtree(self._config.data_dir, ignore_errors=True)


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM ends a foreground server as Ctrl-C does (with its cleanup)."""
    raise KeyboardInterrupt(f"signal {signum}")
