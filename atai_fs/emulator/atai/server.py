"""Running the Files API emulator: in a background thread (tests, notebooks) or in the
foreground (CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._shared.server import BackgroundServer
from .app import build_app
from .config import API_PREFIX, EmulatorConfig, profile_options
from .context import CONTEXT_KEY
from .faults import FaultInjector
from .state import IN_PROGRESS, UploadView


class ATAIEmulator(BackgroundServer[EmulatorConfig, FaultInjector]):
    """An emulated Archetype AI Files API on loopback, served from a background thread.

    Use as a context manager (or call :meth:`start` / :meth:`stop`)::

        with ATAIEmulator(part_size=64 * 1024) as emu:
            client = ArchetypeAI(emu.api_key, api_endpoint=emu.endpoint_url)

    ``data_dir=None`` stores files in a temporary directory removed at stop; a given
    ``data_dir`` persists completed files across emulator instances. The other keyword
    options are the fields of :class:`~atai_fs.emulator.EmulatorConfig`, documented there
    and in the package docstring (a name it lacks is a ``TypeError``); ``faults`` may mix
    :class:`~atai_fs.emulator.Fault` objects and :func:`~atai_fs.emulator.parse_fault` text.
    ``profile="strict"`` starts from the hardest answer to every open point of the spec
    (:data:`~atai_fs.emulator.atai.config.PROFILES`); options given beside it win.
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        profile: str = "default",
        **options: Any,
    ) -> None:
        self.profile = profile
        super().__init__(data_dir, host, port, **profile_options(profile, options))

    _build_app = staticmethod(build_app)
    _thread_name = "atai-emulator"
    _api_prefix = API_PREFIX
    _title = "ATAI Files API emulator"
    _environment = ("ATAI_API_KEY", "ATAI_API_ENDPOINT")

    # -- public view -----------------------------------------------------------------

    @property
    def uploads(self) -> dict[str, UploadView]:
        """upload_id -> read-only view (``.state``, ``.filename``, ``.num_bytes``, ...)."""
        context = self._state_if_running(CONTEXT_KEY)
        return context.uploads.views() if context is not None else {}

    def orphans(self) -> list[UploadView]:
        """Uploads still in progress: left by a client that crashed or forgot to abort."""
        return [view for view in self.uploads.values() if view.state == IN_PROGRESS]


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    data_dir: str | Path | None = None,
    **options: Any,
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM; prints the endpoint URL and the
    ``export`` line of the clients' variables.

    ``options`` are those of :class:`ATAIEmulator`; ``data_dir=None`` uses a temporary
    directory removed on exit. ``faults`` may be :func:`parse_fault` strings
    (command-line use).
    """
    ATAIEmulator(data_dir=data_dir, host=host, port=port, **options).serve_in_foreground()
