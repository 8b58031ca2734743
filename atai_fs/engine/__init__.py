"""The vendor-neutral upload engine: part plans, part sources, retries, the uploader."""

from .config import TransferConfig
from .plan import PartSpec, UploadPlan
from .retry import RetryPolicy
from .sources import BytesSource, FileSource, LiveParts, PartSource, SpoolSource
from .target import Completion, Resumption, UploadTarget
from .uploader import Uploader

__all__ = [
    "BytesSource",
    "Completion",
    "FileSource",
    "LiveParts",
    "PartSource",
    "PartSpec",
    "Resumption",
    "RetryPolicy",
    "SpoolSource",
    "TransferConfig",
    "UploadPlan",
    "UploadTarget",
    "Uploader",
]
