"""A terminal progress bar driven by fsspec callbacks: bytes, rate, ETA, per file and total.

The runtime depends on fsspec and aiohttp only, so this is a small renderer of its own
rather than tqdm.  It draws on one line (carriage return, no scrolling), at most ten
times a second, and only when its stream is a terminal.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, TextIO

from fsspec.callbacks import Callback

__all__ = ["TransferProgress", "human_size"]


def human_size(size: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02}:{seconds % 60:02}"


class TransferProgress(Callback):  # type: ignore[misc]  # fsspec is untyped
    """Progress of a whole transfer (one or many files).

    ``total_bytes`` (when known up front) gives a total percentage and ETA; each file
    also shows its own.  Pass it as ``callback=`` to ``put``/``get``/``put_file``/
    ``get_file``: multi-file calls hand each file a child through :meth:`branched`.
    """

    def __init__(
        self,
        *,
        total_bytes: int | None = None,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
    ) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.total_bytes = total_bytes
        self.min_interval = min_interval
        self.done_bytes = 0
        self.files_done = 0
        self.files_total: int | None = None
        self.current: _FileProgress | None = None
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    # fsspec calls set_size with the number of files on multi-file transfers.
    def set_size(self, size: int) -> None:
        self.files_total = size

    def call(self, *args: Any, **kwargs: Any) -> None:
        """Counting files is done by the files themselves (see _FileProgress)."""

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> _FileProgress:
        self.current = _FileProgress(self, str(path_2 if path_1 is None else path_1))
        return self.current

    def single_file(self, name: str) -> _FileProgress:
        """The callback for a one-file call (``put_file``/``get_file``)."""
        self.files_total = 1
        return self.branched(name, name)

    def _advance(self, n: int) -> None:
        self.done_bytes += n
        self.draw()

    def draw(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        elapsed = max(now - self.started, 1e-6)
        rate = self.done_bytes / elapsed
        parts = []
        if self.files_total and self.files_total > 1:
            parts.append(f"[{self.files_done}/{self.files_total} files]")
        if self.total_bytes:
            fraction = min(1.0, self.done_bytes / self.total_bytes)
            parts.append(f"{fraction:4.0%} {_bar(fraction)}")
            parts.append(f"{human_size(self.done_bytes)}/{human_size(self.total_bytes)}")
            if rate > 0 and not final:
                parts.append(f"ETA {_duration((self.total_bytes - self.done_bytes) / rate)}")
        else:
            parts.append(human_size(self.done_bytes))
        parts.append(f"{human_size(rate)}/s")
        file = self.current
        if file is not None and not final:
            parts.append(file.describe())
        elif final:
            parts.append(f"done in {_duration(elapsed)}")
        line = "  ".join(parts)
        width = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r" + line[: width - 1].ljust(width - 1))
        if final:
            self.stream.write("\n")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        """Draw the final state and end the line."""
        self.draw(final=True)


class _FileProgress(Callback):  # type: ignore[misc]  # fsspec is untyped
    """One file's progress, reported to its :class:`TransferProgress`."""

    def __init__(self, parent: TransferProgress, name: str) -> None:
        super().__init__()
        self.parent = parent
        self.name = name
        self._counted = False

    def relative_update(self, inc: int = 1) -> None:
        super().relative_update(inc)
        if self.size is not None and self.value >= self.size and not self._counted:
            self._counted = True
            self.parent.files_done += 1
        self.parent._advance(inc)

    def call(self, *args: Any, **kwargs: Any) -> None:
        """Progress is pushed to the parent as it comes (see relative_update)."""

    def describe(self) -> str:
        name = self.name.rsplit("/", 1)[-1]
        if self.size:
            return f"{name} {min(1.0, self.value / self.size):.0%}"
        return name


def _bar(fraction: float, width: int = 20) -> str:
    filled = int(fraction * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"
