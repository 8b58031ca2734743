"""Read-only files: seekable, fetched in blocks through the filesystem's ranged reads."""

from __future__ import annotations

from fsspec.spec import AbstractBufferedFile

__all__ = ["RangeReadFile"]


class RangeReadFile(AbstractBufferedFile):  # type: ignore[misc]  # fsspec is untyped
    """A file opened with ``"rb"``: each block is one ranged ``cat_file`` request.

    fsspec's block cache (``cache_type``, default read-ahead) decides which ranges to
    fetch, so readers like pyarrow that seek to a Parquet footer only download what they
    touch.
    """

    def __repr__(self) -> str:
        return f"<RangeReadFile {self.fs.protocol[0]}://{self.path} size={self.size}>"

    __str__ = __repr__
