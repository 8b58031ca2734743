"""Configuration of one emulated Aionvision workspace: every knob a test may turn."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .._shared.config import ServedConfig, new_signing_secret
from .faults import AionFault

API_PREFIX = "/api/v2"
"""Path prefix of every API route; ``endpoint_url`` ends with it."""

DEFAULT_STREAM_LIMIT = 100 * 1024 * 1024
"""100 MB read as 100 MiB, the spec's example ``max_size_bytes`` (104857600)."""

DEFAULT_PRESIGNED_MAX_SIZE = 5 * 1024**3
"""``max_size_bytes`` of presigned URLs: one storage PUT, S3's 5 GiB."""


# The tiers' documented limits (spec section 5, the seed's values: open point 10), one
# table per limit, as the server looks each one up: the defaults of ``batch_size``,
# ``rate_limit_per_minute`` and ``monthly_quota``.
BATCH_FILES = {"free": 10, "starter": 20, "professional": 20, "enterprise": 50}
"""Tier -> files per ``stream-batch`` request."""
REQUESTS_PER_MINUTE = {"free": 10, "starter": 30, "professional": 100, "enterprise": 500}
"""Tier -> API requests per minute per key."""
MONTHLY_UPLOADS = {"free": 1_000, "starter": 10_000, "professional": 50_000, "enterprise": None}
"""Tier -> uploads per month (``None``: unlimited)."""


@dataclass(frozen=True)
class AionVisionConfig(ServedConfig[AionFault]):
    """Options of one Aionvision emulator (one API key, one tenant); those of every
    emulator are in :class:`~atai_fs.emulator._shared.config.ServedConfig`.

    ``batch_size``, ``monthly_quota`` and ``rate_limit_per_minute`` default to the
    ``tier``'s documented values; ``monthly_quota=0`` means unlimited.
    """

    FAULT_TYPE = AionFault

    api_key: str = "aion_test-key"
    tenant_id: str = "5d1c0f7e-0000-4000-8000-000000000001"
    tier: str = "free"
    batch_size: int | None = None
    monthly_quota: int | None = None
    rate_limit: bool = False
    """Enforce the tier's requests per minute on API routes (429 ``RATE_LIMIT_ERROR``)."""
    rate_limit_per_minute: float | None = None
    rate_limit_burst: int | None = None
    """Requests allowed at once, refilled at that many per second (default: the
    minute's allowance, i.e. only the per-minute limit binds)."""
    stream_limit: int = DEFAULT_STREAM_LIMIT
    """Largest file of ``upload/stream`` and of each ``stream-batch`` file (413 above)."""
    batch_max_bytes: int = 200 * 1024 * 1024
    """Largest total of one ``stream-batch`` request (413 above)."""
    presigned_max_size: int = DEFAULT_PRESIGNED_MAX_SIZE
    url_lifetime: float = 600.0
    """Seconds a presigned URL lives (spec open point 5)."""
    processing_delay: float = 0.0
    """Seconds of "AI processing" per file; 0: files are completed at once."""
    stuck_after: float = 1800.0
    """Seconds a file may stay processing before its status says ``is_stuck`` (the
    stuck-uploads route's default of 30 minutes)."""
    batch_max_concurrent: int = 3
    """``upload_plan.max_concurrent`` of presigned batches."""
    batch_strategy: str = "parallel"
    """``upload_plan.strategy`` of presigned batches: ``parallel`` or ``sequential``."""
    upload_timeout: float = 300.0
    """``upload_plan.timeout_per_upload`` of presigned batches (seconds)."""
    now: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    """Wall-clock time of timestamps and of processing progress: a test may share a
    virtual clock with the client to play minutes of processing in a moment."""
    streaming_enabled: bool = True
    """False: the stream endpoints answer 501."""
    tenant_memory_limit: int = 500 * 10**6
    """Streaming bytes in flight per tenant before 429 ``MEMORY_LIMIT_EXCEEDED``."""
    signing_secret: bytes = field(default_factory=new_signing_secret, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.api_key:
            raise ValueError("api_key must be a non-empty string")
        if self.tier not in BATCH_FILES:
            raise ValueError(f"tier must be one of {sorted(BATCH_FILES)}, got {self.tier!r}")
        for name in ("stream_limit", "batch_max_bytes", "presigned_max_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.monthly_quota is not None and self.monthly_quota < 0:
            raise ValueError("monthly_quota must not be negative (0 is unlimited)")
        if self.rate_limit_per_minute is not None and not self.rate_limit_per_minute > 0:
            raise ValueError("rate_limit_per_minute must be positive")
        if self.rate_limit_burst is not None and self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")
        if self.batch_max_concurrent < 1 or self.upload_timeout <= 0 or self.stuck_after < 0:
            raise ValueError(
                "batch_max_concurrent and upload_timeout must be positive; stuck_after must "
                "not be negative"
            )
        if self.batch_strategy not in ("parallel", "sequential"):
            raise ValueError("batch_strategy must be 'parallel' or 'sequential'")
        if self.url_lifetime <= 0 or self.processing_delay < 0:
            raise ValueError("url_lifetime must be positive; processing_delay must not be negative")

    @property
    def files_per_batch(self) -> int:
        return self.batch_size or BATCH_FILES[self.tier]

    @property
    def quota(self) -> int | None:
        """Uploads allowed per month (``None``: unlimited)."""
        if self.monthly_quota is not None:
            return self.monthly_quota or None
        return MONTHLY_UPLOADS[self.tier]

    @property
    def requests_per_minute(self) -> float:
        return self.rate_limit_per_minute or float(REQUESTS_PER_MINUTE[self.tier])
