"""Serving an emulator's application: in a background thread (tests, notebooks) or in the
foreground (CLI)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from .stats import EmulatorStats

_SHUTDOWN_TIMEOUT = 5.0
"""Seconds in-flight requests get to finish when the server stops."""


_S = TypeVar("_S", bound="BackgroundServer")


class BackgroundServer:
    """An ``aiohttp.web`` application served from a background thread on loopback.

    The lifecycle shared by every emulator: :meth:`start` returns once the port is bound
    (or raises what prevented it), :meth:`stop` gives in-flight requests a few seconds
    and removes a temporary ``data_dir``.  Subclasses set ``_config`` (a dataclass with a
    ``data_dir`` field), ``_temporary``, ``host`` and ``_requested_port`` in ``__init__``,
    call :meth:`_init_server`, and build their application in :meth:`_build_app`.
    """

    _thread_name = "emulator"
    #: Path of the API under ``http://HOST:PORT`` (what clients take as endpoint URL).
    _api_prefix = ""
    _config: Any
    _temporary: bool
    host: str
    _requested_port: int

    def _init_server(self, host: str, port: int) -> None:
        self.host = host
        self._requested_port = port
        self.stats = EmulatorStats()
        """Live counters (``requests_by_route``, ``part_puts``, ``bytes_received`` ...)."""
        self.port: int | None = None
        self._app: web.Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    def _build_app(self) -> web.Application:
        """The application to serve (called on the server thread)."""
        raise NotImplementedError

    # -- public view -----------------------------------------------------------------
    @property
    def config(self) -> Any:
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

    def serve_until_interrupted(self, banner: str) -> None:
        """Foreground serving for the CLI: print ``banner``, wait for Ctrl-C, stop."""
        try:
            print(banner, flush=True)
            threading.Event().wait()  # the server runs in its thread until Ctrl-C
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # -- server thread ---------------------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        runner: web.AppRunner | None = None
        try:
            try:
                self._app = self._build_app()
                runner = web.AppRunner(
                    self._app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT
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
