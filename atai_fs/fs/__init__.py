"""fsspec filesystems: the generic write side and one subclass per protocol."""

from .aionvision import AionVisionFileSystem
from .atai import ATAIFileSystem
from .base import UploadFileSystem
from .flow import FlowFileSystem
from .sandbox import SandboxFileSystem
from .upload_file import UploadFile

__all__ = [
    "ATAIFileSystem",
    "AionVisionFileSystem",
    "FlowFileSystem",
    "SandboxFileSystem",
    "UploadFile",
    "UploadFileSystem",
]
