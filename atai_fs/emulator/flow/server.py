"""Running the flow emulator: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from ..faults import Fault, FaultInjector, parse_fault
from ..stats import EmulatorStats
from .app import FLOW_CONTEXT_KEY, build_flow_app
from .config import API_PREFIX, DEFAULT_URL_LIFETIME, MAX_OBJECT_SIZE, FlowEmulatorConfig
from .runs import FlowStore, read_object

__all__ = ["FlowEmulator", "serve_flow"]

_SHUTDOWN_TIMEOUT = 5.0


class FlowEmulator:
    """An emulated flow controller (``/api/v1``) and object store on loopback, served
    from a background thread::

        with FlowEmulator() as emu:
            fs = FlowFileSystem(endpoint_url=emu.endpoint_url)
            run = fs.start_run(flow, node_defs)
            fs.pipe_file(f"flow://{run['ID']}/input-image", data)
            emu.uploaded(run["ID"], "input-image") == data

    ``data_dir=None`` keeps objects in a temporary directory removed at stop.  The other
    options are those of :class:`~atai_fs.emulator.flow.config.FlowEmulatorConfig`;
    ``faults`` may mix :class:`~atai_fs.emulator.Fault` objects and ``parse_fault`` text.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        url_lifetime: float = DEFAULT_URL_LIFETIME,
        detect_interval: float = 0.0,
        on_expiry: str = "wait",
        purge_finished: bool = False,
        error_style: str = "code",
        max_object_size: int = MAX_OBJECT_SIZE,
        public_url: str | None = None,
        latency: float = 0.0,
        put_bandwidth: float | None = None,
        link_bandwidth: float | None = None,
        seed: int | None = 0,
        faults: Iterable[Fault | str] = (),
    ) -> None:
        self._temporary = data_dir is None
        self._config = FlowEmulatorConfig(
            data_dir=Path(data_dir) if data_dir is not None else Path(),
            url_lifetime=url_lifetime,
            detect_interval=detect_interval,
            on_expiry=on_expiry,
            purge_finished=purge_finished,
            error_style=error_style,
            max_object_size=max_object_size,
            public_url=public_url,
            latency=latency,
            put_bandwidth=put_bandwidth,
            link_bandwidth=link_bandwidth,
            seed=seed,
            faults=tuple(parse_fault(f) if isinstance(f, str) else f for f in faults),
        )
        self.faults = FaultInjector(self._config.faults, self._config.seed)
        """Faults to inject: ``emu.faults.add(route="storage_put", status=503, times=2)``.
        Routes: ``flow_test``, ``flow_status``, ``storage_put``."""
        self.stats = EmulatorStats()
        """Counters: ``requests_by_route``, ``part_puts`` (PUTs stored), ``bytes_received``..."""
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._app: web.Application | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    # -- public view -----------------------------------------------------------------
    @property
    def config(self) -> FlowEmulatorConfig:
        return self._config

    @property
    def data_dir(self) -> Path:
        return self._config.data_dir

    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT/api/v1``: the client's ``endpoint_url``."""
        if self.port is None:
            raise RuntimeError("the emulator is not running; call start() or use 'with'")
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def store(self) -> FlowStore:
        """The object store: ``emu.store.get(bucket, object_name)``, ``.read(...)``."""
        return self._require_app()[FLOW_CONTEXT_KEY].store

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """run id -> the run's JSON as it is now (purged runs included)."""
        if self._app is None:
            return {}
        return self._app[FLOW_CONTEXT_KEY].runs.snapshot()

    def uploaded(self, run_id: str, edge: str) -> bytes | None:
        """The bytes stored for ``edge`` of run ``run_id``, or None if nothing arrived."""
        context = self._require_app()[FLOW_CONTEXT_KEY]
        run = context.runs.get(run_id)
        if run is None:
            raise KeyError(f"no run {run_id!r}")
        with context.runs.lock:
            return read_object(context.store, run, edge)

    def _require_app(self) -> web.Application:
        if self._app is None:
            raise RuntimeError("the emulator is not running; call start() or use 'with'")
        return self._app

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> FlowEmulator:
        """Start serving; returns once the port is bound (or raises what prevented it)."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        if self._temporary:
            tmp = Path(tempfile.mkdtemp(prefix="atai-flow-emulator-"))
            self._config = dataclasses.replace(self._config, data_dir=tmp)
        self._startup_error = None
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="atai-flow-emulator", daemon=True
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
        """Stop serving and remove a temporary data_dir."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        self.port = None
        self._remove_temporary_dir()

    def __enter__(self) -> FlowEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.endpoint_url if self.port is not None else "stopped"
        return f"FlowEmulator({where}, data_dir={str(self.data_dir)!r})"

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        runner: web.AppRunner | None = None
        try:
            try:
                self._app = build_flow_app(self._config, self.stats, self.faults)
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


def serve_flow(
    host: str = "127.0.0.1",
    port: int = 1234,
    data_dir: str | Path | None = None,
    **options: Any,
) -> None:
    """Serve in the foreground until Ctrl-C (``atai-fs serve flow``); prints the endpoint.

    ``options`` are those of :class:`FlowEmulator`; ``faults`` may be ``parse_fault``
    strings (command-line use).
    """
    emulator = FlowEmulator(data_dir=data_dir, host=host, port=port, **options).start()
    try:
        print(
            f"flow engine emulator listening on {emulator.endpoint_url} "
            f"(data_dir: {emulator.data_dir})",
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
