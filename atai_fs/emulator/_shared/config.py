"""What every emulator's configuration has: where it keeps its data, how slow it is, the
faults it starts with, and the limits that keep it safe to run on a developer's machine."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Generic

from yarl import URL

from .faults import BaseFault, F

MiB = 1024 * 1024

DEFAULT_MAX_JSON_BODY = 1 * MiB
"""Largest JSON control-plane request body (413 above): far above any legitimate one."""

DEFAULT_HEADER_TIMEOUT = 75.0
"""Seconds a connection gets to send a whole request line and headers, counted from its
opening or from the previous answer: also how long an idle keep-alive connection lives
(longer than the usual 15 s of clients' pools, so the server never closes first)."""

DEFAULT_BODY_TIMEOUT = 60.0
"""Seconds an unfinished request body may go without a new byte."""

DEFAULT_MAX_CONNECTIONS = 256
"""Connections served at once; one more is answered 503 and closed."""


def new_signing_secret() -> bytes:
    """A fresh presigned-URL key: fresh per emulator, so URLs never outlive it."""
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class ServedConfig(Generic[F]):
    """The options every emulator takes; each API's configuration adds its own.

    ``data_dir`` must be a real directory here; the emulator's runner is the layer that
    turns ``None`` into a temporary directory.
    """

    FAULT_TYPE: ClassVar[type[BaseFault]]
    """The API's fault class: ``faults`` (objects or their text) are read as these."""

    data_dir: Path
    latency: float = 0.0
    """Seconds added before every request, API and storage alike."""
    faults: tuple[F, ...] = ()
    """Faults active from the start; more can be added while running (``emu.faults``)."""
    seed: int | None = 0
    """Seed of the fault injector's RNG: the same seed and requests give the same failures."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    """Where the emulator's time comes from (seconds): fault windows (``start``,
    ``duration``) and, where an API has one, its rate limit.  A test may share a virtual
    clock with the client to play an outage of minutes in a moment."""

    public_url: str | None = None
    """Origin (``https://host[:port]``) clients reach the emulator at through a proxy: put
    in presigned URLs, and its host is accepted in ``Host`` headers. ``None``: URLs name
    the address the emulator is bound to (never the client's ``Host`` header)."""
    max_json_body: int = DEFAULT_MAX_JSON_BODY
    """Bytes of a JSON request body, above which it is refused 413 unread (data routes
    stream their bodies and are bounded by the API's own size limits instead)."""
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    """Seconds a connection may take to send a request's line and headers (counted from
    its opening or its previous answer) before the server closes it."""
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    """Seconds an unfinished request body may go without a new byte before the server
    closes the connection (the emulator's own bandwidth pacing is not a stall)."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Connections served at once by ``atai-fs serve`` and the background server; one
    more is answered ``503`` with ``Retry-After: 1`` and closed."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "faults", self.FAULT_TYPE.coerce_all(self.faults))
        if not (math.isfinite(self.latency) and self.latency >= 0):
            raise ValueError(
                f"latency must be a non-negative number of seconds, got {self.latency}"
            )
        for name in ("header_timeout", "body_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds, got {value}")
        for name in ("max_json_body", "max_connections"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.public_url is not None:
            check_public_url(self.public_url)


def check_public_url(public_url: str) -> None:
    """A public URL is an origin: ``http`` or ``https``, a host, nothing after the port."""
    url = URL(public_url)
    if url.scheme not in ("http", "https") or not url.host or url.path not in ("", "/"):
        raise ValueError(
            f"public_url must be an origin such as 'https://emulator.example:8443', "
            f"got {public_url!r}"
        )
