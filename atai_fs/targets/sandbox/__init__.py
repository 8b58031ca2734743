"""Nullspace sandbox uploads (spec ``sandbox-uploads.md``): the session API, what its
errors mean, the digests it wants, directory archives, and the upload target.  Its
exception classes are in :mod:`atai_fs.errors` with every other."""

from .api import (
    CONFLICTS,
    DEFAULT_ENDPOINT,
    DIRECT_UPLOAD_LIMIT,
    PART_SHA256_HEADER,
    ROUTE_PREFIXES,
    SandboxApi,
    SandboxSession,
)
from .digest import ContentDigest
from .errors import SESSION_ENDING_REASONS
from .tar import TreeMember, build_tar_archive, scan_tree
from .target import SandboxUploadTarget

__all__ = [
    "CONFLICTS",
    "DEFAULT_ENDPOINT",
    "DIRECT_UPLOAD_LIMIT",
    "PART_SHA256_HEADER",
    "ROUTE_PREFIXES",
    "SESSION_ENDING_REASONS",
    "ContentDigest",
    "SandboxApi",
    "SandboxSession",
    "SandboxUploadTarget",
    "TreeMember",
    "build_tar_archive",
    "scan_tree",
]
