"""Configuration of one emulated flow controller and its object store."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._shared.config import ServedConfig, new_signing_secret
from .faults import FlowFault

API_PREFIX = "/api/v1"
"""Path prefix of the controller API; ``endpoint_url`` ends with it."""

DEFAULT_URL_LIFETIME = 3600.0
"""Seconds a ``PutURL`` lives: one hour from run creation, as the engine mints them."""

MAX_OBJECT_SIZE = 5 * 1024**3
"""S3's single-PUT limit (5 GiB)."""

ON_EXPIRY = ("wait", "error")
ERROR_STYLES = ("code", "plain", "docs")


@dataclass(frozen=True)
class FlowEmulatorConfig(ServedConfig[FlowFault]):
    """Options of one flow emulator (see the package docstring for their meaning; those
    of every emulator are in :class:`~atai_fs.emulator._shared.config.ServedConfig`)."""

    FAULT_TYPE = FlowFault

    url_lifetime: float = DEFAULT_URL_LIFETIME
    detect_interval: float = 0.0
    """0: one scheduler pass per status call (and one at run start); > 0: a pass over
    every run each ``detect_interval`` seconds, as the real controller (10 s)."""
    on_expiry: str = "wait"
    """``wait``: an expired waiting URL stays listed forever (the engine); ``error``: the
    run turns ``ERROR`` on the next pass."""
    purge_finished: bool = False
    """Forget a run on the pass after it reached ``COMPLETE``/``ERROR`` (the engine does)."""
    error_style: str = "code"
    """``code``: plain-text errors, unknown run = 400 plus the zero-value run JSON (the
    engine's code); ``plain``: the same without the appended JSON; ``docs``: JSON
    ``{"error": ...}`` bodies and 404 for an unknown run (the engine's docs)."""
    max_object_size: int = MAX_OBJECT_SIZE
    signing_secret: bytes = field(default_factory=new_signing_secret, repr=False)
    put_bandwidth: float | None = None
    link_bandwidth: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.url_lifetime > 0:
            raise ValueError(f"url_lifetime must be positive, got {self.url_lifetime}")
        if not self.detect_interval >= 0:
            raise ValueError(f"detect_interval must not be negative, got {self.detect_interval}")
        if self.on_expiry not in ON_EXPIRY:
            raise ValueError(f"on_expiry must be one of {ON_EXPIRY}, got {self.on_expiry!r}")
        if self.error_style not in ERROR_STYLES:
            raise ValueError(f"error_style must be one of {ERROR_STYLES}, got {self.error_style!r}")
        if self.max_object_size < 0:
            raise ValueError("max_object_size must not be negative")
