"""Input files generated for a scenario, inside its work directory."""

from __future__ import annotations

import os
from pathlib import Path

_WRITE_CHUNK = 8 << 20


def random_file(path: Path, size: int) -> Path:
    """``size`` random bytes (incompressible, so no layer can shortcut them)."""
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(_WRITE_CHUNK, left)
            f.write(os.urandom(n))
            left -= n
    return path


def small_files(directory: Path, count: int, size: int, prefix: str = "") -> list[str]:
    """``count`` random files of ``size`` bytes, ``f0000.csv``... (a type every client
    takes), each name starting with ``prefix``."""
    directory.mkdir(parents=True, exist_ok=True)
    return [str(random_file(directory / f"{prefix}f{i:04d}.csv", size)) for i in range(count)]
