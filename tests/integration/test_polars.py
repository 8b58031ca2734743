"""polars writes into atai:// through fsspec handles and reads back by URL.

polars' native readers and writers handle only the cloud schemes they know (s3, gs,
az, hf, http); for ``atai://`` they go through fsspec: a handle from ``fsspec.open``, or
``use_pyarrow=True`` with a URL and ``storage_options``.
"""

from __future__ import annotations

import io

import fsspec
import pytest

from tests.conftest import BOTH_PROFILES, download

pytestmark = BOTH_PROFILES

pl = pytest.importorskip("polars")


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "step": range(50_000),
            "loss": [i / 7 for i in range(50_000)],
            "label": ["cat", "dog", "bird", "fish", "ant"] * 10_000,
        }
    )


@pytest.fixture
def options(emulator) -> dict[str, str]:
    return {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}


def test_write_parquet_to_a_handle_round_trips(emulator, frame, options):
    with fsspec.open("atai://polars/frame.parquet", "wb", **options) as f:
        frame.write_parquet(f)
    back = pl.read_parquet(io.BytesIO(download(emulator, "polars/frame.parquet")))
    assert back.equals(frame)


def test_write_csv_to_a_handle_round_trips(emulator, frame, options):
    with fsspec.open("atai://polars/frame.csv", "wb", **options) as f:
        frame.write_csv(f)
    back = pl.read_csv(io.BytesIO(download(emulator, "polars/frame.csv")))
    assert back.equals(frame)


def test_read_parquet_by_url(fs, frame, options):
    with fs.open("atai://polars/frame.parquet", "wb") as f:
        frame.write_parquet(f)
    back = pl.read_parquet("atai://polars/frame.parquet", storage_options=options, use_pyarrow=True)
    assert back.equals(frame)


def test_read_parquet_from_a_handle(fs, frame):
    with fs.open("atai://polars/frame.parquet", "wb") as f:
        frame.write_parquet(f)
    with fs.open("atai://polars/frame.parquet", "rb") as f:
        assert pl.read_parquet(f).equals(frame)
