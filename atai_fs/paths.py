"""``UPath("atai://...")`` and the other protocols as universal_pathlib paths.

universal_pathlib serves a protocol without a registered path class through its
generic one, warning on every path that it "may not be tested". These classes are that
generic path, registered for each protocol through the ``universal_pathlib.implementations``
entry point (so nothing is imported before a path is made) and tested against the
emulators: names under a prefix are pseudo-directories, as fsspec lists them.
"""

from __future__ import annotations

import fsspec
from upath import UPath

__all__ = ["ATAIPath", "AionVisionPath", "FlowPath", "SandboxPath"]

for _protocol in ("atai", "flow", "sandbox", "aionvision"):
    # universal_pathlib takes a protocol's path rules (its root marker, how it strips the
    # protocol) from the fsspec class, looking only among the classes fsspec already
    # imported, and warns when it finds none: import them, as fsspec does on first use.
    fsspec.get_filesystem_class(_protocol)


class ATAIPath(UPath):
    """``atai://NAME``: a file of the Archetype AI Files API."""

    __slots__ = ()


class FlowPath(UPath):
    """``flow://RUN_ID/EDGE``: an input of a waiting run of a flow engine."""

    __slots__ = ()


class SandboxPath(UPath):
    """``sandbox://SANDBOX_ID/PATH``: a file in a Nullspace sandbox."""

    __slots__ = ()


class AionVisionPath(UPath):
    """``aionvision://NAME``: an upload to Aionvision."""

    __slots__ = ()
