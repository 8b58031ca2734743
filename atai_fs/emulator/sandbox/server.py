"""Running the sandbox emulator: in a background thread (tests) or in the foreground (CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._shared.server import BackgroundServer
from .app import build_sandbox_app
from .config import SandboxConfig
from .context import CONTEXT_KEY
from .faults import SandboxFaultInjector
from .files import SandboxFiles
from .state import ACTIVE, SessionView


class SandboxEmulator(BackgroundServer[SandboxConfig, SandboxFaultInjector]):
    """An emulated Nullspace sandbox upload API on loopback, served from a thread.

    ::

        with SandboxEmulator(part_size=64 * 1024) as emu:
            fs = SandboxFileSystem(api_key=emu.api_key, endpoint_url=emu.endpoint_url)
            fs.put_file("model.bin", "sandbox://sb_1/workspace/model.bin")
            emu.read_file("sb_1", "/workspace/model.bin")

    Keyword options are the fields of :class:`~.config.SandboxConfig`; ``faults`` may
    mix :class:`~.faults.SandboxFault` objects and ``key=value`` strings.
    ``data_dir=None`` uses a temporary directory removed at stop.
    """

    _build_app = staticmethod(build_sandbox_app)
    _thread_name = "sandbox-emulator"
    _title = "Nullspace sandbox upload emulator"
    _environment = ("SANDBOX_API_KEY", "SANDBOX_API_ENDPOINT")

    # -- public view -----------------------------------------------------------------

    @property
    def sessions(self) -> dict[str, SessionView]:
        """upload_id -> read-only view (``.status``, ``.accepted_parts``, ...)."""
        context = self._state_if_running(CONTEXT_KEY)
        if context is None:
            return {}
        return self._call(context.sessions.views)

    def open_sessions(self) -> list[SessionView]:
        """Sessions neither completed nor aborted nor expired (tests assert none are left)."""
        return [view for view in self.sessions.values() if view.status in ACTIVE]

    def path_of(self, sandbox_id: str, path: str) -> Path:
        """Where ``path`` of ``sandbox_id`` lives on the host (symlinks not resolved)."""
        return SandboxFiles(self.data_dir).host_path(sandbox_id, path)

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        """The bytes of a published file of a sandbox (symlinks followed inside it only)."""
        return SandboxFiles(self.data_dir).read_bytes(sandbox_id, path)

    def exists(self, sandbox_id: str, path: str) -> bool:
        """Whether ``path`` exists in the sandbox (a symlink counts, wherever it points)."""
        return SandboxFiles(self.data_dir).exists(sandbox_id, path)


def serve_sandbox(
    host: str = "127.0.0.1",
    port: int = 8766,
    data_dir: str | Path | None = None,
    **options: Any,
) -> None:
    """Serve until Ctrl-C or SIGTERM (``atai-fs serve sandbox``); prints the
    endpoint URL and ``export`` line.  ``options`` are those of :class:`SandboxEmulator`."""
    SandboxEmulator(data_dir=data_dir, host=host, port=port, **options).serve_in_foreground()
