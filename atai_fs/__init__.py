"""atai_fs: fsspec filesystems that write straight into presigned-upload APIs.

``atai://NAME`` is a file of the Archetype AI Files API::

    import pandas as pd
    df.to_parquet("atai://training-data.parquet")   # key from ATAI_API_KEY

The other protocols: ``flow://RUN_ID/EDGE`` (a flow engine's waiting inputs),
``sandbox://SANDBOX_ID/PATH`` (Nullspace sandboxes), ``aionvision://NAME`` (Aionvision
uploads), and :mod:`atai_fs.presigned` for any presigned PUT URL.  Everything public is
importable from here: the filesystems, the configuration objects, every error, the
result types.
"""

from . import errors, presigned
from .engine.config import TransferConfig
from .engine.ratelimit import RateLimit
from .engine.retry import RetryPolicy
from .errors import *  # noqa: F403  (every error is public; the list is errors.__all__)
from .fs.aionvision import AionVisionFileSystem
from .fs.atai import ATAIFileSystem
from .fs.flow import FlowFileSystem
from .fs.sandbox import SandboxFileSystem
from .fs.upload_file import UploadFile
from .http import Timeouts
from .presigned import open_presigned
from .targets.aionvision import Tier, UploadOptions, UploadResult

__version__ = "0.1.0"

__all__ = [
    "ATAIFileSystem",
    "AionVisionFileSystem",
    "FlowFileSystem",
    "RateLimit",
    "RetryPolicy",
    "SandboxFileSystem",
    "Tier",
    "Timeouts",
    "TransferConfig",
    "UploadFile",
    "UploadOptions",
    "UploadResult",
    "__version__",
    "open_presigned",
    "presigned",
    *errors.__all__,
]
