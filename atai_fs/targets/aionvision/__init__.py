"""Aionvision uploads (spec ``aionvision-uploads.md``): the API, what its errors mean,
the upload options and results, the one-file target, the batch coordinator, presigned
batches and the wait for processing."""

from ...errors import QuotaExceeded, UnsupportedFormat
from .api import DEFAULT_ENDPOINT, AionVisionApi
from .batch import BatchSettings, BatchUploads, raise_for_failures
from .options import (
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_STREAM_LIMIT,
    MAX_HASHES_PER_CHECK,
    SUPPORTED_TYPES,
    TIERS,
    Tier,
    UploadOptions,
    UploadResult,
    check_file,
    content_type_for,
    file_name,
    tier_named,
    tier_rate_limit,
)
from .presigned_batch import MAX_PRESIGNED_BATCH, PresignedBatch
from .processing import ProcessingWait
from .target import AionVisionTarget, sha256_of

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_STREAM_LIMIT",
    "MAX_HASHES_PER_CHECK",
    "MAX_PRESIGNED_BATCH",
    "SUPPORTED_TYPES",
    "TIERS",
    "AionVisionApi",
    "AionVisionTarget",
    "BatchSettings",
    "BatchUploads",
    "PresignedBatch",
    "ProcessingWait",
    "QuotaExceeded",
    "Tier",
    "UnsupportedFormat",
    "UploadOptions",
    "UploadResult",
    "check_file",
    "content_type_for",
    "file_name",
    "raise_for_failures",
    "sha256_of",
    "tier_named",
    "tier_rate_limit",
]
