"""Idempotency keys (open point 7): a create or complete retried with its key gets the
answer of the request that succeeded, as long as it asks the same thing.

Keys are scoped per sandbox and operation (``create``, or ``complete`` of one session)
and kept ``idempotency_ttl``. Only successful answers are kept: a failed request stores
nothing, so its retry runs again. Requests with one key run one at a time, so a retry
waits for the original rather than running beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .errors import UploadError

Scope = tuple[str, str, str]
"""(sandbox id, operation, idempotency key)."""


@dataclass(frozen=True)
class _Replay:
    fingerprint: str
    body: dict[str, Any]
    stored_at: float


class Replays:
    """The successful answers of one emulator, by idempotency scope."""

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        self._answers: dict[Scope, _Replay] = {}
        self._locks: dict[Scope, asyncio.Lock] = {}

    async def answer_once(
        self,
        scope: Scope,
        fingerprint: str,
        work: Callable[[], Awaitable[dict[str, Any]]],
    ) -> web.Response:
        """The stored answer of ``scope`` if its request matches ``fingerprint`` (409 if
        not), else ``work()``'s answer, stored for the retries to come."""
        lock = self._locks.setdefault(scope, asyncio.Lock())
        async with lock:
            stored = self._answers.get(scope)
            if stored is not None and time.time() - stored.stored_at > self._ttl:
                del self._answers[scope]
                stored = None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise UploadError(409, "Idempotency-Key reused with a different request body")
                return web.json_response(stored.body)
            answer = await work()
            self._answers[scope] = _Replay(fingerprint, answer, time.time())
            return web.json_response(answer)
