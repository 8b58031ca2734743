"""Configuration of one emulated Files API: every knob a test or a user may turn."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._shared.config import ServedConfig, new_signing_secret
from .faults import Fault

DEFAULT_PART_SIZE = 8 * 1024 * 1024
"""8 MiB, the part size of the spec's initiate example."""

DEFAULT_MAX_FILE_SIZE = 250 * 10**9
"""250 GB, the documented direct-to-cloud maximum."""

DEFAULT_SIMPLE_UPLOAD_LIMIT = 512 * 10**6
"""512 MB, the newest documented ``POST /files`` limit."""

MAX_PARTS = 10_000
"""Most parts one upload may have (the S3 limit); bigger files get bigger parts."""

API_PREFIX = "/v0.5"
"""Path prefix of every API route; ``endpoint_url`` ends with it."""

INTEGRITY_ALGORITHMS = ("none", "crc32c")

MAX_PAGE_SIZE = 1000
"""Largest documented metadata page; ``limit`` above it is a 400."""


@dataclass(frozen=True)
class EmulatorConfig(ServedConfig[Fault]):
    """Options of one Files API emulator (those of every emulator in
    :class:`~atai_fs.emulator._shared.config.ServedConfig`).

    ``data_dir`` must be a real directory here; :class:`~atai_fs.emulator.ATAIEmulator`
    is the layer that turns ``None`` into a temporary directory.
    """

    FAULT_TYPE = Fault

    api_key: str = "test-key"
    part_size: int = DEFAULT_PART_SIZE
    part_number_base: int = 1
    url_lifetime: float = 3600.0
    integrity_algorithm: str = "none"
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    simple_upload_limit: int = DEFAULT_SIMPLE_UPLOAD_LIMIT
    public_url: str | None = None
    """Origin put in presigned URLs (e.g. behind a proxy); ``None`` uses the request's origin."""
    signing_secret: bytes = field(default_factory=new_signing_secret, repr=False)
    """Key of the presigned-URL HMAC; fresh per instance so URLs never outlive their emulator."""
    max_page_size: int = MAX_PAGE_SIZE
    """Cursor listings return at most this many files per page, whatever ``limit`` asks."""
    ignore_range: bool = False
    """Downloads ignore ``Range`` and answer 200 with the whole body (no range support)."""
    redirect_downloads: bool = False
    """Downloads answer 307 to a presigned storage GET URL instead of the bytes."""
    rate_limit: bool = False
    """Enforce the documented rate limit on API routes (429 ``RATE_LIMIT_EXCEEDED``)."""
    rate_limit_per_minute: float = 100
    rate_limit_burst_per_second: float = 20
    put_bandwidth: float | None = None
    """Bytes/s cap of each storage PUT body (one TCP path); ``None``: unlimited."""
    link_bandwidth: float | None = None
    """Bytes/s shared by all concurrent storage PUT bodies (the uplink); ``None``: unlimited."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.api_key:
            raise ValueError("api_key must be a non-empty string")
        if self.part_size <= 0:
            raise ValueError(f"part_size must be positive, got {self.part_size}")
        if self.part_number_base not in (0, 1):
            raise ValueError(f"part_number_base must be 0 or 1, got {self.part_number_base}")
        if self.url_lifetime <= 0:
            raise ValueError(f"url_lifetime must be positive, got {self.url_lifetime}")
        if self.integrity_algorithm not in INTEGRITY_ALGORITHMS:
            raise ValueError(
                f"integrity_algorithm must be one of {INTEGRITY_ALGORITHMS}, "
                f"got {self.integrity_algorithm!r}"
            )
        if self.max_file_size < 0 or self.simple_upload_limit < 0:
            raise ValueError("size limits must not be negative")
        if self.max_page_size < 1:
            raise ValueError(f"max_page_size must be at least 1, got {self.max_page_size}")
        if not (self.rate_limit_per_minute > 0 and self.rate_limit_burst_per_second > 0):
            raise ValueError("rate_limit_per_minute and rate_limit_burst_per_second must be > 0")
        for name in ("put_bandwidth", "link_bandwidth"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive bytes/s or None, got {value}")
