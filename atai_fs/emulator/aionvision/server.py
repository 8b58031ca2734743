"""Running the Aionvision emulator in a background thread (tests) or the foreground (CLI)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .._shared.faults import BaseFault
from .._shared.server import BackgroundServer
from .api import CONTEXT_KEY, AionContext
from .app import build_aionvision_app
from .config import API_PREFIX, AionVisionConfig
from .faults import AionFault, AionFaultInjector
from .state import Reservation, SessionFile


@dataclass(frozen=True)
class FileView:
    """A stored file as a test sees it."""

    image_id: str
    filename: str
    object_key: str
    sha256: str
    size: int
    content_type: str
    upload_method: str
    title: str | None
    tags: tuple[str, ...]
    path: Path

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


class AionVisionEmulator(BackgroundServer):
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

    _thread_name = "aionvision-emulator"

    _api_prefix = API_PREFIX

    def __init__(
        self,
        data_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: Iterable[BaseFault | str] = (),
        **options: Any,
    ) -> None:
        self._temporary = data_dir is None
        self._config = AionVisionConfig(
            data_dir=Path(data_dir) if data_dir is not None else Path(),
            faults=tuple(AionFault.coerce(f) for f in faults),
            **options,
        )
        self.faults = AionFaultInjector(self._config.faults, self._config.seed)
        """Faults to inject: ``emu.faults.add(AionFault(...))``, ``.clear()``, ``.fired``."""
        self._init_server(host, port)

    def _build_app(self) -> web.Application:
        return build_aionvision_app(self._config, self.stats, self.faults)

    # -- public view -----------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return self._config.api_key

    def _context(self) -> AionContext | None:
        return self._app[CONTEXT_KEY] if self._app is not None else None

    @property
    def files(self) -> dict[str, FileView]:
        """image_id -> the stored file (a snapshot)."""
        ctx = self._context()
        if ctx is None:
            return {}
        return {
            f.image_id: FileView(
                f.image_id,
                f.filename,
                f.object_key,
                f.sha256,
                f.size,
                f.content_type,
                f.upload_method,
                f.title,
                f.tags,
                f.path,
            )
            for f in list(ctx.workspace.files.values())
        }

    @property
    def usage(self) -> int:
        """Uploads counted against this month's quota."""
        ctx = self._context()
        return ctx.workspace.usage if ctx is not None else 0

    def session_files(self, session_id: str) -> list[SessionFile]:
        ctx = self._context()
        session = ctx.workspace.sessions.get(session_id) if ctx is not None else None
        return list(session.files) if session is not None else []

    @property
    def session_ids(self) -> list[str]:
        ctx = self._context()
        return list(ctx.workspace.sessions) if ctx is not None else []

    def orphans(self) -> list[Reservation]:
        """Presigned uploads requested but never confirmed."""
        ctx = self._context()
        if ctx is None:
            return []
        return [r for r in ctx.workspace.reservations.values() if r.confirmed_id is None]

    def __repr__(self) -> str:
        where = self.endpoint_url if self.port is not None else "stopped"
        return f"AionVisionEmulator({where}, tier={self._config.tier!r})"


def serve_aionvision(host: str = "127.0.0.1", port: int = 8766, **options: Any) -> None:
    """Serve in the foreground until Ctrl-C (``atai-fs serve aionvision``); prints one
    line with the endpoint URL and key.  ``options`` are those of
    :class:`AionVisionEmulator`; ``faults`` may be :func:`parse_aion_fault` strings."""
    emulator = AionVisionEmulator(host=host, port=port, **options).start()
    emulator.serve_until_interrupted(
        f"Aionvision Uploads API emulator listening on {emulator.endpoint_url} "
        f"(api key: {emulator.api_key}, tier: {emulator.config.tier}, "
        f"data_dir: {emulator.data_dir})"
    )


__all__ = ["AionFault", "AionVisionEmulator", "FileView", "serve_aionvision"]
