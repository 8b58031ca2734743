"""Running the flow emulator: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._shared.faults import BaseFault
from .._shared.server import BackgroundServer, data_dir_or_temporary
from .app import build_flow_app
from .config import API_PREFIX, DEFAULT_URL_LIFETIME, MAX_OBJECT_SIZE, FlowEmulatorConfig
from .context import CONTEXT_KEY
from .faults import FlowFault, FlowFaultInjector
from .store import FlowStore

__all__ = ["FlowEmulator", "serve_flow"]


class FlowEmulator(BackgroundServer[FlowEmulatorConfig, FlowFaultInjector]):
    """An emulated flow controller (``/api/v1``) and object store on loopback, served
    from a background thread::

        with FlowEmulator() as emu:
            fs = FlowFileSystem(endpoint_url=emu.endpoint_url)
            run = fs.start_run(flow, node_defs)
            fs.pipe_file(f"flow://{run['ID']}/input-image", data)
            emu.uploaded(run["ID"], "input-image") == data

    ``data_dir=None`` keeps objects in a temporary directory removed at stop.  The other
    options are those of :class:`~atai_fs.emulator.flow.config.FlowEmulatorConfig`;
    ``faults`` may mix :class:`~.faults.FlowFault` objects and their ``key=value`` text.
    """

    _thread_name = "atai-flow-emulator"
    _api_prefix = API_PREFIX
    _title = "flow engine emulator"

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
        faults: Iterable[BaseFault | str] = (),
    ) -> None:
        config = FlowEmulatorConfig(
            data_dir=data_dir_or_temporary(data_dir),
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
            faults=FlowFault.coerce_all(faults),
        )
        super().__init__(
            config,
            FlowFaultInjector,
            build_flow_app,
            temporary=data_dir is None,
            host=host,
            port=port,
        )

    # -- public view -----------------------------------------------------------------

    @property
    def store(self) -> FlowStore:
        """The object store: ``emu.store.get(bucket, object_name)``, ``.read(...)``."""
        return self._state(CONTEXT_KEY).store

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """run id -> the run's JSON as it is now (purged runs included)."""
        context = self._state_if_running(CONTEXT_KEY)
        return context.runs.snapshot() if context is not None else {}

    def uploaded(self, run_id: str, edge: str) -> bytes | None:
        """The bytes stored for ``edge`` of run ``run_id``, or None if nothing arrived."""
        runs = self._state(CONTEXT_KEY).runs
        run = runs.get(run_id)
        if run is None:
            raise KeyError(f"no run {run_id!r}")
        return runs.uploaded(run, edge)


def serve_flow(
    host: str = "127.0.0.1",
    port: int = 1234,
    data_dir: str | Path | None = None,
    **options: Any,
) -> None:
    """Serve in the foreground until Ctrl-C (``atai-fs serve flow``); prints the endpoint.

    ``options`` are those of :class:`FlowEmulator`; ``faults`` may be their text
    (command-line use).
    """
    FlowEmulator(data_dir=data_dir, host=host, port=port, **options).serve_in_foreground()
