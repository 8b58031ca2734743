"""Configuration of one emulated sandbox upload API: every knob a test or a user may turn."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._shared.config import ServedConfig
from .faults import SandboxFault

DEFAULT_PART_SIZE = 8 * 1024 * 1024
"""8 MiB: the spec's suggestion (open point 2), capped by ``max_part_bytes``."""

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024**3
DEFAULT_MAX_PART_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_STAGING_QUOTA_BYTES = 100 * 1024**3
DEFAULT_SESSION_LIFETIME = 24 * 3600.0
DEFAULT_EXPIRED_RETENTION = 24 * 3600.0
DEFAULT_IDEMPOTENCY_TTL = 24 * 3600.0

DEFAULT_ROOTS = ("/workspace", "/data", "/context", "/tmp")
"""Absolute destinations allowed by the docs (plus the session user's home)."""

RESERVED_PATHS = ("/workspace/.nullspace",)


@dataclass(frozen=True)
class SandboxConfig(ServedConfig[SandboxFault]):
    """Options of one sandbox emulator (those of every emulator are in
    :class:`~atai_fs.emulator._shared.config.ServedConfig`).

    ``data_dir`` must be a real directory here (the runner turns ``None`` into a
    temporary one).  ``sandboxes``: the ids that exist, any iterable of them (``None``:
    every well-formed id exists, created on first use).  ``max_concurrency`` is what
    sessions grant; ``limit_concurrency`` is the cap reported in ``limits`` (default: the
    same).
    """

    FAULT_TYPE = SandboxFault

    api_key: str = "test-key"
    part_size: int = DEFAULT_PART_SIZE
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_part_bytes: int = DEFAULT_MAX_PART_BYTES
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    staging_quota_bytes: int = DEFAULT_STAGING_QUOTA_BYTES
    session_lifetime: float = DEFAULT_SESSION_LIFETIME
    expired_retention: float = DEFAULT_EXPIRED_RETENTION
    idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL
    sandboxes: frozenset[str] | None = None
    roots: tuple[str, ...] = DEFAULT_ROOTS

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.sandboxes is not None:
            object.__setattr__(self, "sandboxes", frozenset(self.sandboxes))
        for name in ("part_size", "max_part_bytes", "max_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_upload_bytes", "staging_quota_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("session_lifetime", "expired_retention", "idempotency_ttl"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number of seconds")

    @property
    def effective_part_size(self) -> int:
        return min(self.part_size, self.max_part_bytes)
