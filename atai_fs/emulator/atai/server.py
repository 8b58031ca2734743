"""Running the Files API emulator: in a background thread (tests, notebooks) or in the
foreground (CLI)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._shared.faults import BaseFault
from .._shared.server import BackgroundServer, data_dir_or_temporary
from .app import build_app
from .config import (
    API_PREFIX,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_PART_SIZE,
    DEFAULT_SIMPLE_UPLOAD_LIMIT,
    MAX_PAGE_SIZE,
    EmulatorConfig,
)
from .context import CONTEXT_KEY
from .faults import Fault, FaultInjector
from .state import IN_PROGRESS, UploadView


class ATAIEmulator(BackgroundServer[EmulatorConfig, FaultInjector]):
    """An emulated Archetype AI Files API on loopback, served from a background thread.

    Use as a context manager (or call :meth:`start` / :meth:`stop`)::

        with ATAIEmulator(part_size=64 * 1024) as emu:
            client = ArchetypeAI(emu.api_key, api_endpoint=emu.endpoint_url)

    ``data_dir=None`` stores files in a temporary directory removed at stop; a given
    ``data_dir`` persists completed files across emulator instances. The other options
    are those of :class:`~atai_fs.emulator.EmulatorConfig`; ``faults`` may mix
    :class:`~atai_fs.emulator.Fault` objects and :func:`~atai_fs.emulator.parse_fault` text.
    """

    _thread_name = "atai-emulator"
    _api_prefix = API_PREFIX
    _title = "ATAI Files API emulator"

    def __init__(
        self,
        data_dir: str | Path | None = None,
        api_key: str = "test-key",
        part_size: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        part_number_base: int = 1,
        url_lifetime: float = 3600.0,
        integrity_algorithm: str = "none",
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        simple_upload_limit: int = DEFAULT_SIMPLE_UPLOAD_LIMIT,
        public_url: str | None = None,
        *,
        seed: int | None = 0,
        faults: Iterable[BaseFault | str] = (),
        rate_limit: bool = False,
        rate_limit_per_minute: float = 100,
        rate_limit_burst_per_second: float = 20,
        latency: float = 0.0,
        put_bandwidth: float | None = None,
        link_bandwidth: float | None = None,
        ignore_range: bool = False,
        redirect_downloads: bool = False,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        config = EmulatorConfig(
            data_dir=data_dir_or_temporary(data_dir),
            api_key=api_key,
            part_size=DEFAULT_PART_SIZE if part_size is None else part_size,
            part_number_base=part_number_base,
            url_lifetime=url_lifetime,
            integrity_algorithm=integrity_algorithm,
            max_file_size=max_file_size,
            simple_upload_limit=simple_upload_limit,
            public_url=public_url,
            seed=seed,
            faults=Fault.coerce_all(faults),
            rate_limit=rate_limit,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_limit_burst_per_second=rate_limit_burst_per_second,
            latency=latency,
            put_bandwidth=put_bandwidth,
            link_bandwidth=link_bandwidth,
            ignore_range=ignore_range,
            redirect_downloads=redirect_downloads,
            max_page_size=max_page_size,
        )
        super().__init__(
            config, FaultInjector, build_app, temporary=data_dir is None, host=host, port=port
        )

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
    """Serve in the foreground until Ctrl-C; prints one line with the endpoint URL.

    ``options`` are those of :class:`ATAIEmulator`; ``data_dir=None`` uses a temporary
    directory removed on exit. ``faults`` may be :func:`parse_fault` strings
    (command-line use).
    """
    ATAIEmulator(data_dir=data_dir, host=host, port=port, **options).serve_in_foreground()
