"""How ``atai-fs`` ends: its exit codes (README's table), usage errors, and the things a
command could not do.

A command that could not do part of what was asked (a directory without ``-r``, a glob
matching nothing, an unreadable folder) does the rest, says each thing it did not do on
one line of stderr, and exits 1, as ``cp`` and ``rm`` do: never 0.
"""

from __future__ import annotations

import sys

__all__ = [
    "ERROR",
    "INTERRUPTED",
    "OK",
    "TERMINATED",
    "USAGE",
    "Problems",
    "UsageError",
]

OK = 0
ERROR = 1
USAGE = 2
INTERRUPTED = 130
"""Ctrl-C (SIGINT): 128 + 2, as shells report it."""
TERMINATED = 143
"""SIGTERM (``kill``, ``timeout``, ``docker stop``): 128 + 15."""


class UsageError(Exception):
    """The command line itself is wrong (exit 2): nothing was attempted."""


class Problems:
    """What a command could not do, each said on one line as it is found."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, message: str) -> None:
        print(f"atai-fs: error: {message}", file=sys.stderr, flush=True)
        self.count += 1

    @property
    def exit_code(self) -> int:
        return ERROR if self.count else OK
