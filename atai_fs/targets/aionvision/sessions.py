"""Cancelling an upload session the caller abandoned (an exception, Ctrl-C).

``POST /uploads/sessions/{id}/cancel`` stops the files not yet processed and rolls
back their credits; finished results stay.  The cancel runs to its end even when the
task that asks for it is being cancelled, and its own failure is logged, never raised:
the caller's failure is the one worth reporting.  (Interrupted again while it is on
its way, the shielded request still goes out, on the filesystem's loop.)
"""

from __future__ import annotations

import asyncio
import logging

from ...errors import AtaiFsError
from .api import AionVisionApi

__all__ = ["cancel_abandoned"]

log = logging.getLogger("atai_fs")


async def cancel_abandoned(api: AionVisionApi, session_id: str) -> None:
    """Cancel session ``session_id`` (one attempt); a session already finished (400:
    not cancellable) has nothing left to cancel."""
    task = asyncio.ensure_future(api.cancel_session(session_id))
    try:
        await asyncio.shield(task)
    except AtaiFsError as exc:
        if exc.status == 400:
            return
        log.warning("could not cancel the abandoned upload session %s: %s", session_id, exc)
        return
    log.info("cancelled the abandoned upload session %s", session_id)
