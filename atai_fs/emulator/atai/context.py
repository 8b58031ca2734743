"""The per-application bundle every handler works on."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from .._shared.context import ContextKey
from .._shared.stats import EmulatorStats
from .._shared.storage import url_origin
from .backends import Backend
from .config import EmulatorConfig
from .file_index import FileIndex
from .state import UploadRegistry


@dataclass
class EmulatorContext:
    """Configuration, counters, storage and state of one emulated service."""

    config: EmulatorConfig
    stats: EmulatorStats
    backend: Backend
    uploads: UploadRegistry
    files: FileIndex

    def origin(self, request: web.Request) -> str:
        """Scheme and host for presigned URLs: where the client reached us, unless configured."""
        return url_origin(request, self.config.public_url)


CONTEXT_KEY = ContextKey("atai_emulator_context", EmulatorContext)
context_of = CONTEXT_KEY.of
