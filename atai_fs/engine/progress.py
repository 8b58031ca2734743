"""Byte progress of one upload, reported to an fsspec callback.

Parts are retried and URLs refreshed, so bytes can be sent twice; the user's bar must
still end at the file's size and never go backward past what was really delivered.
Bytes are counted as parts finish; bytes a server already holds (a resumed upload) are
counted first.
"""

from __future__ import annotations

from fsspec.callbacks import Callback, NoOpCallback

__all__ = ["Progress"]


class Progress:
    """Counts delivered bytes of one upload into ``callback`` (fsspec's interface)."""

    def __init__(self, callback: Callback | None = None) -> None:
        self.callback: Callback = callback if callback is not None else NoOpCallback()
        self.sent = 0

    def start(self, size: int, already_there: int = 0) -> None:
        """The upload's total size, and how much of it the server holds already."""
        self.callback.set_size(size)
        if already_there:
            self.advance(already_there)

    def advance(self, count: int) -> None:
        """``count`` more bytes were delivered."""
        if count:
            self.sent += count
            self.callback.relative_update(count)
