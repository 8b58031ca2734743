"""atai_fs: fsspec filesystems that write straight into presigned-upload APIs.

``atai://NAME`` is a file of the Archetype AI Files API::

    import pandas as pd
    df.to_parquet("atai://training-data.parquet")   # key from ATAI_API_KEY
"""

from .engine.ratelimit import RateLimit
from .engine.retry import RetryPolicy
from .errors import (
    AtaiFsError,
    AuthError,
    ConfigurationError,
    Conflict,
    FileTooLarge,
    InvalidRequest,
    NotFound,
    ProtocolError,
    RateLimited,
    RequestFailed,
    UploadFailed,
)
from .fs.atai import ATAIFileSystem
from .http import Timeouts

__version__ = "0.1.0"

__all__ = [
    "ATAIFileSystem",
    "AtaiFsError",
    "AuthError",
    "ConfigurationError",
    "Conflict",
    "FileTooLarge",
    "InvalidRequest",
    "NotFound",
    "ProtocolError",
    "RateLimit",
    "RateLimited",
    "RequestFailed",
    "RetryPolicy",
    "Timeouts",
    "UploadFailed",
    "__version__",
]
