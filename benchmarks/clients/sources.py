"""Data produced inside a client process: a DataFrame and a stream of 1 MiB chunks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

CHUNK = 1 << 20
_FLOAT_COLUMNS = 4


def chunks(total: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """``total`` bytes as ``chunk``-sized pieces, each distinct, never all in memory."""
    import random

    block = bytearray(random.Random(0).randbytes(chunk))
    sent, index = 0, 0
    while sent < total:
        n = min(chunk, total - sent)
        block[:8] = index.to_bytes(8, "little")
        yield bytes(block[:n])
        sent += n
        index += 1


def frame(parquet_bytes: int) -> Any:
    """A DataFrame whose parquet is about ``parquet_bytes`` (random float64s barely compress)."""
    import numpy as np
    import pandas as pd

    rows = max(1, parquet_bytes // (8 * _FLOAT_COLUMNS))
    values = np.random.default_rng(0).random((rows, _FLOAT_COLUMNS))
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(_FLOAT_COLUMNS)])
