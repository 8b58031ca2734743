"""Running the Aionvision emulator in a background thread (tests) or the foreground (CLI)."""

from __future__ import annotations

from typing import Any

from .._shared.server import BackgroundServer
from .app import build_aionvision_app
from .config import API_PREFIX, AionVisionConfig
from .context import CONTEXT_KEY
from .faults import AionFault, AionFaultInjector
from .state import FileView, Reservation, SessionFile


class AionVisionEmulator(BackgroundServer[AionVisionConfig, AionFaultInjector]):
    """An emulated Aionvision Uploads API on loopback, served from a background thread.

    ::

        with AionVisionEmulator(tier="free", stream_limit=64 * 1024) as emu:
            fs = AionVisionFileSystem(api_key=emu.api_key, endpoint_url=emu.endpoint_url)
            emu.files            # image_id -> FileView (bytes via .read_bytes())
            emu.stats            # requests per route, storage PUTs, 429s
            emu.faults.add(AionFault(route="stream_upload", action="reset", nth=1))

    Options are those of :class:`~atai_fs.emulator.aionvision.AionVisionConfig`;
    ``faults`` may mix :class:`AionFault` objects and :func:`parse_aion_fault` text.
    ``data_dir=None`` uses a temporary directory removed at stop.
    """

    _build_app = staticmethod(build_aionvision_app)
    _thread_name = "aionvision-emulator"
    _api_prefix = API_PREFIX
    _title = "Aionvision Uploads API emulator"
    _environment = ("AIONVISION_API_KEY", "AIONVISION_API_ENDPOINT")

    # -- public view -----------------------------------------------------------------

    @property
    def files(self) -> dict[str, FileView]:
        """image_id -> the stored file (a snapshot of an immutable record)."""
        ctx = self._state_if_running(CONTEXT_KEY)
        if ctx is None:
            return {}
        return {image_id: stored for image_id, stored in ctx.workspace.files.items()}

    @property
    def usage(self) -> int:
        """Uploads counted against this month's quota."""
        ctx = self._state_if_running(CONTEXT_KEY)
        return ctx.workspace.usage if ctx is not None else 0

    def session_files(self, session_id: str) -> list[SessionFile]:
        ctx = self._state_if_running(CONTEXT_KEY)
        session = ctx.workspace.sessions.get(session_id) if ctx is not None else None
        return list(session.files) if session is not None else []

    @property
    def session_ids(self) -> list[str]:
        ctx = self._state_if_running(CONTEXT_KEY)
        return list(ctx.workspace.sessions) if ctx is not None else []

    def orphans(self) -> list[Reservation]:
        """Presigned uploads requested but never confirmed."""
        ctx = self._state_if_running(CONTEXT_KEY)
        if ctx is None:
            return []
        return [r for r in ctx.workspace.reservations.values() if r.confirmed_id is None]

    def __repr__(self) -> str:
        where = self.endpoint_url if self.port is not None else "stopped"
        return f"AionVisionEmulator({where}, tier={self._config.tier!r})"

    def _details(self) -> str:
        return f"api key: {self.api_key}, tier: {self._config.tier}, data_dir: {self.data_dir}"


def serve_aionvision(host: str = "127.0.0.1", port: int = 8766, **options: Any) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM (``atai-fs serve aionvision``); prints
    the endpoint URL, key and ``export`` line.  ``options`` are those of
    :class:`AionVisionEmulator`; ``faults`` may be :func:`parse_aion_fault` strings."""
    AionVisionEmulator(host=host, port=port, **options).serve_in_foreground()


__all__ = ["AionFault", "AionVisionEmulator", "FileView", "serve_aionvision"]
