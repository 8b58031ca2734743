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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors
from .errors import *  # noqa: F403  (every error is public; the list is errors.__all__)

if TYPE_CHECKING:
    from . import presigned
    from .engine.config import TransferConfig
    from .engine.ratelimit import RateLimit
    from .engine.retry import RetryPolicy
    from .fs.aionvision import AionVisionFileSystem
    from .fs.atai import ATAIFileSystem
    from .fs.flow import FlowFileSystem
    from .fs.sandbox import SandboxFileSystem
    from .fs.upload_file import UploadFile
    from .http import Timeouts
    from .presigned import open_presigned
    from .targets.aionvision import Tier, UploadOptions, UploadResult

__version__ = "0.1.0"

_LAZY = {
    "ATAIFileSystem": ".fs.atai",
    "AionVisionFileSystem": ".fs.aionvision",
    "FlowFileSystem": ".fs.flow",
    "RateLimit": ".engine.ratelimit",
    "RetryPolicy": ".engine.retry",
    "SandboxFileSystem": ".fs.sandbox",
    "Tier": ".targets.aionvision",
    "Timeouts": ".http",
    "TransferConfig": ".engine.config",
    "UploadFile": ".fs.upload_file",
    "UploadOptions": ".targets.aionvision",
    "UploadResult": ".targets.aionvision",
    "open_presigned": ".presigned",
}
"""Public name -> the module defining it, imported on first use.

``import atai_fs`` stays cheap (no aiohttp, no fsspec) because importing any submodule
runs this file first: the pytest plugin (:mod:`atai_fs.testing`) and the emulators must
not load the client where they are not used.
"""

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


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used (PEP 562)."""
    if name == "presigned":
        return importlib.import_module(".presigned", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
