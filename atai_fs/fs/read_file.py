"""Read-only files: seekable, fetched in blocks through the filesystem's ranged reads."""

from __future__ import annotations

import tempfile
from typing import IO, Any

from fsspec.spec import AbstractBufferedFile

__all__ = ["RangeReadFile", "WholeBody"]


class WholeBody:
    """Where a download that ignored ``Range`` leaves the whole body it had to stream.

    Range support is an open point of the spec: a server may answer a ranged GET with
    200 and every byte. A file read at random (a Parquet footer, then column chunks)
    would then download the file once per block; instead the first such answer is kept
    in a temporary file on disk (memory stays bounded) and every later block is read
    from it, so the file crosses the network once.
    """

    def __init__(self) -> None:
        self.file: IO[bytes] | None = None

    def keep(self) -> IO[bytes]:
        """A fresh temporary file to stream the body into (replacing any earlier one)."""
        self.close()
        # Owned by this object and closed by close(), so no context manager.
        self.file = tempfile.TemporaryFile(prefix="atai-fs-download-")  # noqa: SIM115
        return self.file

    def read(self, start: int, end: int) -> bytes:
        assert self.file is not None
        self.file.seek(start)
        return self.file.read(max(0, end - start))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class RangeReadFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A file opened with ``"rb"``: each block is one ranged ``cat_file`` request.

    fsspec's block cache (``cache_type``, default read-ahead) decides which ranges to
    fetch, so readers like pyarrow that seek to a Parquet footer only download what they
    touch. Where the server ignores ``Range``, the first answer is kept whole
    (:class:`WholeBody`) and the rest is read from it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._whole = WholeBody()
        super().__init__(*args, **kwargs)

    def _fetch_range(self, start: int, end: int) -> bytes:
        if self._whole.file is not None:
            return self._whole.read(start, end)
        data: bytes = self.fs.cat_file(self.path, start=start, end=end, whole_body=self._whole)
        return data

    def close(self) -> None:
        super().close()
        self._whole.close()

    def __repr__(self) -> str:
        return f"<RangeReadFile {self.fs.protocol[0]}://{self.path} size={self.size}>"

    __str__ = __repr__
