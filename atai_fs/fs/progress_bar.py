"""Progress bars of transfers, drawn by tqdm: the file's name, bytes, rate, ETA.

tqdm is what the ecosystem draws progress with: ``tqdm.auto`` gives a widget in a
notebook and a text bar on stderr elsewhere, and ``TQDM_DISABLE=1`` (or any other
``TQDM_*`` default) applies as it does to every tqdm bar.  The bars are fsspec
callbacks (:class:`~fsspec.callbacks.TqdmCallback`), so they take ``callback=`` anywhere.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from fsspec.callbacks import TqdmCallback

from ..engine.progress import ClosedWithTransfer

__all__ = ["FileBar", "TransferBar", "add_initial", "bar_shape"]

#: The shape assumed for a terminal that reports 0 rows or 0 columns (a container's
#: pseudo-terminal before its first resize, some CI runners): tqdm would draw nothing.
FALLBACK_SHAPE = os.terminal_size((80, 24))


def bar_shape(file: Any) -> dict[str, Any]:
    """tqdm's size options for a bar on ``file``: follow the terminal's width as it is
    resized, unless the terminal says it has no rows or columns, where tqdm draws
    nothing (rows) or a bar cut short (columns); then a fixed 80 x 24."""
    try:
        shape = os.get_terminal_size(file.fileno())
    except (AttributeError, OSError, ValueError):  # not a terminal: tqdm decides
        return {"dynamic_ncols": True}
    if shape.columns and shape.lines:
        return {"dynamic_ncols": True}
    return {
        "dynamic_ncols": False,
        "ncols": shape.columns or FALLBACK_SHAPE.columns,
        "nrows": shape.lines or FALLBACK_SHAPE.lines,
    }


class FileBar(TqdmCallback):  # type: ignore[misc]  # fsspec is untyped
    """One file's bytes.  The value it first hears (with the size) is where the bar
    starts (the bytes a resumed upload finds on the server), not bytes of this run, so
    they do not count as speed.  ``tqdm_kwargs`` adds to or overrides the defaults."""

    def __init__(self, name: str, **tqdm_kwargs: Any) -> None:
        from tqdm.auto import tqdm

        kwargs = {
            "desc": name,
            "unit": "B",
            "unit_scale": True,
            "unit_divisor": 1024,
            **bar_shape(tqdm_kwargs.get("file", sys.stderr)),
            **tqdm_kwargs,
        }
        super().__init__(tqdm_kwargs=kwargs, tqdm_cls=tqdm)
        self.tqdm: Any

    def call(self, *args: Any, **kwargs: Any) -> None:
        if self.tqdm is None:
            self.tqdm = self._tqdm_cls(total=self.size, initial=self.value, **self._tqdm_kwargs)
        super().call(*args, **kwargs)


class TransferBar(FileBar, ClosedWithTransfer):
    """The bar a filesystem with ``progress=True`` draws for each transfer it makes
    without a caller's ``callback=``; closed when the transfer ends, published or not."""


def add_initial(bar: Any, count: int) -> None:
    """Move a tqdm ``bar`` by ``count`` bytes that were there before this run (a resumed
    file among many): they count towards its position, never towards its rate.  A bar
    switched off (``TQDM_DISABLE``, no terminal) has nothing to move."""
    if getattr(bar, "disable", False) or not count:
        return
    bar.n += count
    bar.last_print_n += count
    bar.initial += count
    bar.refresh()
