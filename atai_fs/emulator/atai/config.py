"""Configuration of one emulated Files API: every knob a test or a user may turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._shared.config import MiB, ServedConfig, new_signing_secret
from .._shared.storage import STORAGE_ROUTES as _STORAGE_ROUTES
from .faults import Fault

DEFAULT_PART_SIZE = 8 * 1024 * 1024
"""8 MiB, the part size of the spec's initiate example."""

DEFAULT_MAX_FILE_SIZE = 250 * 10**9
"""250 GB, the documented direct-to-cloud maximum."""

DEFAULT_SIMPLE_UPLOAD_LIMIT = 512 * 10**6
"""512 MB, the newest documented ``POST /files`` limit."""

DEFAULT_UPLOAD_LIFETIME = 24 * 3600.0
"""A day without a call: a client that is still uploading refreshes its part URLs
(every ``url_lifetime``) long before."""

MAX_PARTS = 10_000
"""Most parts one upload may have (the S3 limit); bigger files get bigger parts."""

API_PREFIX = "/v0.5"
"""Path prefix of every API route; ``endpoint_url`` ends with it."""

INTEGRITY_ALGORITHMS = ("none", "crc32c")

MAX_PAGE_SIZE = 1000
"""Largest documented metadata page; ``limit`` above it is a 400."""

ETAG_STYLES = ("md5", "opaque")

STORAGES = ("local", "s3")
S3_MIN_PART_SIZE = 5 * 1024 * 1024
"""S3 refuses parts but the last below 5 MiB (``EntityTooSmall``)."""

PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "strict": {
        "etag_style": "opaque",
        "part_number_base": 1,
        "ignore_range": True,
        "redirect_downloads": True,
        "rate_limit": True,
        "rate_limit_retry_after": False,
        "url_lifetime": 30.0,
        "max_page_size": 2,
    },
}
"""Named sets of options. ``strict`` takes, for every open point of spec section 10, the
hardest plausible answer at once (ETags that are not MD5s, downloads that ignore
``Range`` and redirect to storage, 429s without ``Retry-After`` under the documented
limits, URLs that expire in 30 s, pages of two files), so a client that passes against it
depends on none of the default profile's choices. Storage errors are S3 XML in every
profile. An option given beside a profile wins over the profile's value."""


def profile_options(profile: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of ``profile`` overlaid with ``options`` (explicit ones win)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {tuple(PROFILES)}, got {profile!r}")
    return {**PROFILES[profile], **options}


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
    upload_lifetime: float = DEFAULT_UPLOAD_LIFETIME
    """Seconds an upload may stay in progress without a call on it (initiate, resume,
    ``parts/urls``, checkpoint); then it expires: its parts are deleted and every call on
    it answers 404 ``upload_not_found`` (open point 15). Read on ``clock``."""
    integrity_algorithm: str = "none"
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    simple_upload_limit: int = DEFAULT_SIMPLE_UPLOAD_LIMIT
    max_json_body: int = 2 * MiB
    """Bytes of a JSON request body (413 above): a complete of 10,000 parts with their
    tokens is 0.8 MB compact, 1 MB indented."""
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
    rate_limit_retry_after: bool = True
    """429s carry ``Retry-After``; ``False``: they carry none (the spec does not promise it)."""
    etag_style: str = "md5"
    """Part ETags: ``md5`` (quoted MD5 hex of the bytes) or ``opaque`` (a random 32-hex
    string per PUT, as S3 answers for SSE-KMS/SSE-C buckets and several S3-compatible stores)."""
    put_bandwidth: float | None = None
    """Bytes/s cap of each storage PUT body (one TCP path); ``None``: unlimited."""
    link_bandwidth: float | None = None
    """Bytes/s shared by all concurrent storage PUT bodies (the uplink); ``None``: unlimited."""
    storage: str = "local"
    """Where parts and files live: ``local`` (``data_dir``, HMAC-signed URLs to the
    emulator itself) or ``s3`` (a real S3-compatible ``bucket``: SigV4 presigned multipart
    uploads, S3 judging ETags, part order and sizes; needs ``atai-fs[s3]``)."""
    bucket: str | None = None
    """The bucket of ``storage="s3"`` (created if missing)."""
    s3_endpoint_url: str | None = None
    """The S3-compatible endpoint of ``storage="s3"`` (MinIO, LocalStack, moto);
    ``None``: AWS S3. Credentials come from the usual AWS variables or profile."""
    s3_prefix: str = ""
    """Key prefix of every object in ``bucket`` (to share one bucket)."""

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
        if not self.upload_lifetime > 0:
            raise ValueError(f"upload_lifetime must be positive, got {self.upload_lifetime}")
        if self.integrity_algorithm not in INTEGRITY_ALGORITHMS:
            raise ValueError(
                f"integrity_algorithm must be one of {INTEGRITY_ALGORITHMS}, "
                f"got {self.integrity_algorithm!r}"
            )
        if self.max_file_size < 0 or self.simple_upload_limit < 0:
            raise ValueError("size limits must not be negative")
        if self.etag_style not in ETAG_STYLES:
            raise ValueError(f"etag_style must be one of {ETAG_STYLES}, got {self.etag_style!r}")
        if self.max_page_size < 1:
            raise ValueError(f"max_page_size must be at least 1, got {self.max_page_size}")
        if not (self.rate_limit_per_minute > 0 and self.rate_limit_burst_per_second > 0):
            raise ValueError("rate_limit_per_minute and rate_limit_burst_per_second must be > 0")
        self._check_storage()
        for name in ("put_bandwidth", "link_bandwidth"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive bytes/s or None, got {value}")

    def _check_storage(self) -> None:
        """S3 storage takes what S3 can do, and only that. Messages name the option and
        its ``atai-fs serve`` flag, as either may have set it."""
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {STORAGES}, got {self.storage!r}")
        if self.storage == "local":
            if self.bucket is not None or self.s3_endpoint_url is not None:
                raise ValueError(
                    "bucket and s3_endpoint_url (--s3-endpoint) need S3 storage: "
                    "storage='s3' (--storage s3://BUCKET)"
                )
            return
        if not self.bucket:
            raise ValueError("S3 storage needs bucket='NAME' (--storage s3://NAME)")
        if self.part_size < S3_MIN_PART_SIZE:
            raise ValueError(
                f"S3 storage needs part_size (--part-size) of at least {S3_MIN_PART_SIZE} "
                f"(5MiB, S3's smallest part), got {self.part_size}"
            )
        # What the emulator does itself on its own storage routes; S3 does as S3 does.
        unsupported = {
            "etag_style (--set etag_style=...)": self.etag_style != "md5",
            "ignore_range (--ignore-range)": self.ignore_range,
            "put_bandwidth (--put-bandwidth)": self.put_bandwidth is not None,
            "link_bandwidth (--link-bandwidth)": self.link_bandwidth is not None,
            "faults on storage routes (--fault route=storage_...)": any(
                f.route in _STORAGE_ROUTES for f in self.faults
            ),
        }
        named = [name for name, given in unsupported.items() if given]
        if named:
            raise ValueError(
                f"S3 storage cannot take {', '.join(named)}: storage requests go to S3, "
                "not to the emulator (front S3 with a proxy to change its answers)"
            )
