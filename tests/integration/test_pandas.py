"""pandas writes straight into atai:// through fsspec."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from atai_fs import ATAIFileSystem
from tests.conftest import BOTH_PROFILES, download

pytestmark = BOTH_PROFILES


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "step": np.arange(50_000),
            "loss": rng.random(50_000),
            "label": rng.choice(["cat", "dog", "bird"], 50_000),
        }
    )


def test_to_parquet_with_storage_options_round_trips(emulator, frame):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    frame.to_parquet("atai://runs/2026/x.parquet", storage_options=options)
    back = pd.read_parquet(io.BytesIO(download(emulator, "runs/2026/x.parquet")))
    pd.testing.assert_frame_equal(back, frame)


def test_to_parquet_with_key_from_environment(atai_emulator, frame):
    ATAIFileSystem.clear_instance_cache()
    frame.to_parquet("atai://training-data.parquet")
    back = pd.read_parquet(io.BytesIO(download(atai_emulator, "training-data.parquet")))
    pd.testing.assert_frame_equal(back, frame)


def test_to_csv_round_trips(emulator, frame):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    frame.to_csv("atai://tables/frame.csv", index=False, storage_options=options)
    back = pd.read_csv(io.BytesIO(download(emulator, "tables/frame.csv")))
    pd.testing.assert_frame_equal(back, frame)


def test_to_parquet_spanning_many_parts_is_one_upload(emulator, frame):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    frame.to_parquet("atai://big.parquet", storage_options=options)
    (upload,) = emulator.uploads.values()
    assert upload.state == "completed"
    assert upload.num_parts > 5
