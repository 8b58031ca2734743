"""fsspec filesystems: the generic write side and one subclass per protocol."""

from .atai import ATAIFileSystem
from .base import UploadFileSystem
from .file import UploadFile

__all__ = ["ATAIFileSystem", "UploadFile", "UploadFileSystem"]
