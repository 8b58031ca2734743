"""Dask writes a partitioned dataset into atai:// from worker processes.

The filesystem travels to the workers pickled as its storage options; each worker
process builds its own instance, with its own event loop and connection pool, and
uploads the partitions it computed.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from atai_fs import ATAIFileSystem
from tests.conftest import BOTH_PROFILES, stored_names

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

PARTITIONS = 6

pytestmark = [
    BOTH_PROFILES,
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
]  # dask on pandas 3


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {"step": np.arange(60_000), "loss": rng.random(60_000), "run": rng.integers(0, 4, 60_000)}
    )


@pytest.fixture
def client() -> Iterator[distributed.Client]:
    """Two single-threaded worker processes, started after the test's environment is set
    (workers inherit it: ATAI_RATE_LIMIT, XDG_CACHE_HOME, and any ATAI_API_* a test sets)."""
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def worker_filesystems(endpoint_url: str) -> list[tuple[int, bool]]:
    """Run on a worker: (pid, has an open connection pool) of its atai filesystems."""
    return [
        (os.getpid(), bool(fs.http._sessions))
        for fs in list(ATAIFileSystem._cache.values())
        if isinstance(fs, ATAIFileSystem) and fs.endpoint_url == endpoint_url
    ]


def test_filesystem_pickles_as_its_options(fs, emulator):
    clone = pickle.loads(pickle.dumps(fs))
    assert (clone.api_key, clone.endpoint_url) == (emulator.api_key, emulator.endpoint_url)
    clone.pipe_file("pickled.bin", b"x")
    assert fs.cat_file("pickled.bin") == b"x"


def test_to_parquet_from_worker_processes_writes_every_partition(emulator, frame, client):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    ddf = dd.from_pandas(frame, npartitions=PARTITIONS)

    ddf.to_parquet("atai://dataset/", storage_options=options)

    assert stored_names(emulator) == {f"dataset/part.{i}.parquet" for i in range(PARTITIONS)}
    back = dd.read_parquet("atai://dataset/", storage_options=options).compute()
    pd.testing.assert_frame_equal(back, frame)
    # Every worker process (not this one) built its own filesystem and connection pool.
    on_workers = client.run(worker_filesystems, emulator.endpoint_url)
    assert len(on_workers) == 2
    for instances in on_workers.values():
        assert instances, "a worker never built an atai filesystem"
        assert all(pid != os.getpid() and pooled for pid, pooled in instances)


def test_workers_take_credentials_from_their_environment(atai_emulator, frame):
    ATAIFileSystem.clear_instance_cache()  # instances cached under no options elsewhere
    ddf = dd.from_pandas(frame, npartitions=PARTITIONS)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        ddf.to_parquet("atai://env-dataset/")
        back = dd.read_parquet("atai://env-dataset/").compute()
    pd.testing.assert_frame_equal(back, frame)
