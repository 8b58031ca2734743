"""The vendor-neutral upload engine: part plans, part sources, retries, the uploader."""

from .plan import PartSpec, UploadPlan
from .retry import RetryPolicy
from .sources import BytesSource, FileSource, PartSource, SpoolSource
from .target import UploadTarget
from .uploader import TransferConfig, Uploader

__all__ = [
    "BytesSource",
    "FileSource",
    "PartSource",
    "PartSpec",
    "RetryPolicy",
    "SpoolSource",
    "TransferConfig",
    "UploadPlan",
    "UploadTarget",
    "Uploader",
]
