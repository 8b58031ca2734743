"""Running the flow emulator: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._shared.server import BackgroundServer
from .app import build_flow_app
from .config import API_PREFIX, FlowEmulatorConfig
from .context import CONTEXT_KEY
from .faults import FlowFaultInjector
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
    keyword options are the fields of
    :class:`~atai_fs.emulator.flow.config.FlowEmulatorConfig`, documented there and in the
    package docstring (a name it lacks is a ``TypeError``); ``faults`` may mix
    :class:`~.faults.FlowFault` objects and their ``key=value`` text.
    """

    _build_app = staticmethod(build_flow_app)
    _thread_name = "atai-flow-emulator"
    _api_prefix = API_PREFIX
    _title = "flow engine emulator"
    _environment = (None, "FLOW_API_ENDPOINT")

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
    """Serve until Ctrl-C or SIGTERM (``atai-fs serve flow``); prints the endpoint.

    ``options`` are those of :class:`FlowEmulator`; ``faults`` may be their text
    (command-line use).
    """
    FlowEmulator(data_dir=data_dir, host=host, port=port, **options).serve_in_foreground()
