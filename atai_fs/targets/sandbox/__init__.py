"""Nullspace sandbox uploads (spec ``sandbox-uploads.md``): the session API, what its
errors mean, the digests it wants, directory archives, and the upload target."""

from ...errors import (
    AlreadyCompleted,
    ArchiveRejected,
    ChecksumMismatch,
    InsufficientStagingSpace,
    MissingParts,
    PartRejected,
    SandboxUploadError,
    SessionGone,
    SizeLimitExceeded,
    TargetConflict,
    UploadAborted,
    UploadExpired,
)
from .api import (
    CONFLICTS,
    DEFAULT_ENDPOINT,
    PART_SHA256_HEADER,
    ROUTE_PREFIXES,
    SandboxApi,
    SandboxSession,
)
from .digest import ContentDigest
from .errors import SESSION_ENDING_REASONS
from .tar import build_tar_archive
from .target import SandboxUploadTarget

__all__ = [
    "CONFLICTS",
    "DEFAULT_ENDPOINT",
    "PART_SHA256_HEADER",
    "ROUTE_PREFIXES",
    "SESSION_ENDING_REASONS",
    "AlreadyCompleted",
    "ArchiveRejected",
    "ChecksumMismatch",
    "ContentDigest",
    "InsufficientStagingSpace",
    "MissingParts",
    "PartRejected",
    "SandboxApi",
    "SandboxSession",
    "SandboxUploadError",
    "SandboxUploadTarget",
    "SessionGone",
    "SizeLimitExceeded",
    "TargetConflict",
    "UploadAborted",
    "UploadExpired",
    "build_tar_archive",
]
