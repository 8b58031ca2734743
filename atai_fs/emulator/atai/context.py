"""The per-application bundle every handler works on."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from .._shared.context import ContextKey
from .._shared.stats import EmulatorStats
from .._shared.storage import url_origin
from .backends import Backend
from .config import EmulatorConfig
from .errors import ApiError
from .file_index import FileIndex
from .state import UploadRegistry

logger = logging.getLogger(__name__)


@dataclass
class EmulatorContext:
    """Configuration, counters, storage and state of one emulated service."""

    config: EmulatorConfig
    stats: EmulatorStats
    backend: Backend
    uploads: UploadRegistry
    files: FileIndex

    def origin(self, request: web.Request) -> str:
        """Scheme and host for presigned URLs: the bound address, unless configured."""
        return url_origin(request, self.config.public_url)

    async def collect_abandoned(self) -> None:
        """Expire the uploads left in progress ``upload_lifetime`` seconds without a call,
        deleting their parts (open point 15). Called before every call that names or
        creates an upload, so the emulator holds no more abandoned uploads than the
        calls made within one lifetime left behind."""
        for upload in self.uploads.expired(self.config.clock(), self.config.upload_lifetime):
            try:
                await self.backend.discard(upload)
            except ApiError as exc:  # S3 unreachable: its own lifecycle rules must clean up
                logger.warning("could not release expired upload %s: %s", upload.upload_id, exc)


CONTEXT_KEY = ContextKey("atai_emulator_context", EmulatorContext)
context_of = CONTEXT_KEY.of
