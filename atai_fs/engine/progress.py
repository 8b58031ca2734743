"""Byte progress of one upload, reported to an fsspec callback as bytes are sent.

A part of hundreds of MB takes seconds; counting it when it finishes leaves a bar still
for that long, then jumps.  So bytes are counted as each chunk of a part is handed to
the connection, and reported at most every ``interval`` seconds (a bar redrawn more
often only costs the writer time), and at once when the last byte is counted.

Parts are retried and URLs refreshed (and aiohttp itself writes a body again on a
reused connection that dropped), so bytes can be sent twice.  A part counts how far into
it a write has got, and only bytes beyond what earlier attempts reached are new: what a
failed attempt had counted is taken back from the retry, not reported again, so the
total never passes the size, never goes backward, and ends at the size exactly.

Bytes a server already holds (a resumed upload) are the callback's starting value: it
hears them together with the size, in one call, before any byte is sent, so a bar counts
them as where it starts (tqdm's ``initial``) rather than as speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fsspec.callbacks import Callback, NoOpCallback

__all__ = ["REPORT_INTERVAL", "ClosedWithTransfer", "Progress"]

#: Shortest time between two reports to the callback (about ten a second).
REPORT_INTERVAL = 0.1


class ClosedWithTransfer(Callback):  # type: ignore[misc]  # fsspec is untyped
    """A callback made for one transfer (a filesystem's ``progress=True`` bar): the
    engine closes it when the transfer ends, published or failed.  A callback the caller
    passed is theirs to close."""


class Progress:
    """Counts the bytes of one upload into ``callback`` (fsspec's interface).

    ``clock`` (monotonic seconds) paces the reports; tests inject their own.
    """

    def __init__(
        self,
        callback: Callback | None = None,
        *,
        interval: float = REPORT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.callback: Callback = callback if callback is not None else NoOpCallback()
        self._interval = interval
        self._clock = clock
        self.size: int | None = None
        self.counted = 0  # bytes counted, reported or not
        self._reported = 0
        self._last_report = 0.0
        self._reached: dict[int, int] = {}  # part number -> furthest byte any attempt sent
        self._ended = False  # parts cancelled after a failure report nothing more

    def start(self, size: int, already_there: int = 0) -> None:
        """The upload's total size, and how much of it the server holds already."""
        self.size = size
        self.counted = self._reported = already_there
        self._reached.clear()
        self._last_report = self._clock()
        self.callback.value = already_there
        self.callback.set_size(size)

    def reached(self, number: int, done: int) -> None:
        """An attempt at sending part ``number`` has handed ``done`` of its bytes to the
        connection; only bytes beyond what earlier attempts reached are new."""
        beyond = done - self._reached.get(number, 0)
        if beyond > 0:
            self._reached[number] = done
            self._count(beyond)

    def part_sent(self, number: int, length: int) -> None:
        """Part ``number`` (``length`` bytes) was delivered: whatever of it no chunk
        counted (a target that sent it another way) is counted now, and reported at
        once (a finished part is always news, whatever the pace of chunk reports)."""
        self.reached(number, length)
        self.flush()

    def advance(self, count: int) -> None:
        """``count`` more bytes were delivered at once (a one-request upload)."""
        if count > 0:
            self._count(count)

    def flush(self) -> None:
        """Report what was counted and not yet reported (the upload ended)."""
        if self.counted > self._reported:
            self.callback.relative_update(self.counted - self._reported)
            self._reported = self.counted
        self._last_report = self._clock()

    def end(self) -> None:
        """The upload ended, published or failed: report the rest, and close a callback
        made for this transfer (:class:`ClosedWithTransfer`)."""
        if self._ended:
            return
        self.flush()
        self._ended = True
        if isinstance(self.callback, ClosedWithTransfer):
            self.callback.close()

    def _count(self, count: int) -> None:
        if self._ended:
            return
        self.counted += count
        if self.counted == self.size or self._clock() - self._last_report >= self._interval:
            self.flush()
