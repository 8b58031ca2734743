"""Configuration of one emulated Files API: every knob a test or a user may turn."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True)
class EmulatorConfig:
    """Options of one emulator instance.

    ``data_dir`` must be a real directory here; :class:`~atai_fs.emulator.ATAIEmulator`
    is the layer that turns ``None`` into a temporary directory.
    """

    data_dir: Path
    api_key: str = "test-key"
    part_size: int = DEFAULT_PART_SIZE
    part_number_base: int = 1
    url_lifetime: float = 3600.0
    integrity_algorithm: str = "none"
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    simple_upload_limit: int = DEFAULT_SIMPLE_UPLOAD_LIMIT
    public_url: str | None = None
    """Origin put in presigned URLs (e.g. behind a proxy); ``None`` uses the request's origin."""
    signing_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    """Key of the presigned-URL HMAC; fresh per instance so URLs never outlive their emulator."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
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
