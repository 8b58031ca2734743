"""The progress of ``atai-fs cp``: tqdm bars driven by fsspec callbacks.

One file: one bar (name, bytes, rate, ETA), however it is copied.  Many files: a total
bar (bytes of every file, files done) and a bar for each file in flight, which clears
when its file is done, so every file that is moving shows its own progress.  Bytes a
resumed upload finds on the server count where a bar starts, not towards its rate.
``TQDM_DISABLE=1`` and the other ``TQDM_*`` variables apply.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from fsspec.callbacks import Callback

from ..fs.progress_bar import FileBar, add_initial, bar_shape

__all__ = ["TransferProgress", "human_size"]


def human_size(size: float) -> str:
    """``1536`` -> ``1.5 KiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


class TransferProgress(Callback):  # type: ignore[misc]  # fsspec is untyped
    """Progress of a whole transfer (one or many files) on ``stream`` (stderr).

    Pass :meth:`single_file` as ``callback=`` to ``put_file``/``get_file``, or this
    object itself to ``put``/``get``, whose files each get a child through
    :meth:`branched`.  :meth:`finish` ends every line, also after an interrupt.
    """

    def __init__(
        self,
        *,
        total_bytes: int | None = None,
        files: int | None = None,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.total_bytes = total_bytes
        #: The number of files, when the caller knows it (one file draws one bar).
        self.files_total: int | None = files
        self.files_done = 0
        self.total: Any = None  # the total bar of a transfer of many files
        self._bars: list[FileBar] = []

    def single_file(self, name: str) -> FileBar:
        """The callback of a one-file call (``put_file``/``get_file``)."""
        bar = FileBar(_short(name), file=self.stream)
        self._bars.append(bar)
        return bar

    # fsspec calls set_size with the number of files of a put or get.
    def set_size(self, size: int) -> None:
        self.files_total = size if self.files_total is None else self.files_total
        self._describe()

    def call(self, *args: Any, **kwargs: Any) -> None:
        """Files are counted by the files themselves (see :class:`_FileInFlight`)."""

    def branched(self, path_1: str, path_2: str, **kwargs: Any) -> FileBar:
        name = str(path_1 if path_1 is not None else path_2)
        if self.files_total == 1:  # a total beside the file's own bar says nothing more
            return self.single_file(name)
        if self.total is None:
            from tqdm.auto import tqdm

            self.total = tqdm(
                total=self.total_bytes,
                file=self.stream,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                **bar_shape(self.stream),
            )
            self._describe()
        return _FileInFlight(self, _short(name))

    def _file_done(self) -> None:
        self.files_done += 1
        self._describe()

    def _describe(self) -> None:
        if self.total is not None:
            self.total.set_description_str(f"{self.files_done}/{self.files_total or '?'} files")

    def finish(self) -> None:
        """Close every bar, ending its line (the total and single bars stay shown)."""
        for bar in self._bars:
            bar.close()
        self._bars.clear()
        if self.total is not None:
            self.total.close()
            self.total = None


class _FileInFlight(FileBar):
    """One file of a transfer of many: its own bar while it moves, cleared when it is
    done, its bytes added to the total."""

    def __init__(self, parent: TransferProgress, name: str) -> None:
        super().__init__(name, file=parent.stream, leave=False)
        self._parent = parent
        self._told = 0  # bytes added to the total so far
        self._done = False
        parent._bars.append(self)

    def call(self, *args: Any, **kwargs: Any) -> None:
        if self._done:
            return
        total = self._parent.total
        if self.tqdm is None:  # the first call: what is there already is no speed
            add_initial(total, self.value)
        else:
            total.update(self.value - self._told)
        self._told = self.value
        super().call(*args, **kwargs)
        if self.size is not None and self.value >= self.size:
            self._done = True
            self.close()
            self._parent._file_done()


def _short(name: str) -> str:
    """A path's last component, for a bar's label."""
    return name.rstrip("/").rsplit("/", 1)[-1] or name
