"""Ray Data writes and reads a parquet dataset in atai:// from its worker processes.

Ray takes the fsspec filesystem as ``filesystem=`` and wraps it in pyarrow's
``PyFileSystem(FSSpecHandler(fs))``. The filesystem travels to the workers pickled as
its storage options (never its connection pool or event loop); each worker builds its
own instance, with credentials from those options or from its own environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from atai_fs import ATAIFileSystem
from atai_fs.emulator import ATAIEmulator
from tests.conftest import stored_names
from tests.sizes import PART_SIZE

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

# Ray's own settings object warns about its deprecated fields when it is first read.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

BLOCKS = 4
WORKER_KEY = "key-of-the-ray-workers"


@pytest.fixture(scope="module")
def workers_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ATAIEmulator]:
    """The emulator whose key and endpoint the workers find in their environment (its
    own key: the other tests' emulators refuse it, so what they store came through
    storage options)."""
    with ATAIEmulator(
        data_dir=tmp_path_factory.mktemp("ray-emulator"), part_size=PART_SIZE, api_key=WORKER_KEY
    ) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def local_ray(
    tmp_path_factory: pytest.TempPathFactory, workers_emulator: ATAIEmulator
) -> Iterator[None]:
    """A local Ray cluster of two CPUs for this module. Its workers get their variables
    as a real cluster's would, from the job's ``runtime_env``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # offline: no usage report
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024 * 1024,
            runtime_env={
                "env_vars": {
                    "ATAI_API_KEY": workers_emulator.api_key,
                    "ATAI_API_ENDPOINT": workers_emulator.endpoint_url,
                    # Resume records and rate-limit budgets in the test's directory; no
                    # pacing against an emulator that enforces no limit.
                    "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("ray-worker-cache")),
                    "ATAI_RATE_LIMIT": "off",
                }
            },
        )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({"step": np.arange(20_000), "loss": rng.random(20_000)})


def sorted_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Ray reads blocks back in no fixed order."""
    return frame.sort_values("step").reset_index(drop=True)


@ray.remote
def filesystem_on_a_worker(fs: ATAIFileSystem) -> tuple[int, bool, str]:
    """(pid, whether the instance arrived with open connections, its endpoint)."""
    return os.getpid(), bool(fs.http._sessions), fs.endpoint_url


def test_filesystem_reaches_a_worker_as_its_options_not_its_sessions(local_ray, emulator):
    fs = ATAIFileSystem(api_key=emulator.api_key, endpoint_url=emulator.endpoint_url)
    fs.pipe_file("warm.bin", b"the driver's pool is open")
    assert fs.http._sessions

    pid, pooled, endpoint = ray.get(filesystem_on_a_worker.remote(fs))

    assert pid != os.getpid()
    assert not pooled
    assert endpoint == emulator.endpoint_url


def test_write_and_read_parquet_with_storage_options(local_ray, emulator, frame):
    fs = fsspec.filesystem("atai", api_key=emulator.api_key, endpoint_url=emulator.endpoint_url)

    ray.data.from_pandas(frame).repartition(BLOCKS).write_parquet("atai://ray/", filesystem=fs)

    names = stored_names(emulator)
    assert len(names) == BLOCKS and all(
        name.startswith("ray/") and name.endswith(".parquet") for name in names
    )
    back = ray.data.read_parquet("atai://ray/", filesystem=fs).to_pandas()
    pd.testing.assert_frame_equal(sorted_frame(back), frame, check_dtype=False)
    assert emulator.orphans() == []


def test_workers_take_credentials_from_their_environment(
    local_ray, workers_emulator, frame, monkeypatch
):
    monkeypatch.setenv("ATAI_API_KEY", workers_emulator.api_key)  # the driver's, as the job's
    monkeypatch.setenv("ATAI_API_ENDPOINT", workers_emulator.endpoint_url)
    fs = fsspec.filesystem("atai", skip_instance_cache=True)
    assert "api_key" not in fs.storage_options  # nothing of the key is pickled

    ray.data.from_pandas(frame).repartition(BLOCKS).write_parquet("atai://env/", filesystem=fs)

    assert len([n for n in stored_names(workers_emulator) if n.startswith("env/")]) == BLOCKS
    back = ray.data.read_parquet("atai://env/", filesystem=fs).to_pandas()
    pd.testing.assert_frame_equal(sorted_frame(back), frame, check_dtype=False)


def test_a_directory_written_by_the_workers_is_seen_by_the_driver(local_ray, emulator, frame):
    fs = ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    assert not fs.exists("late/")  # the driver's listing is cached from here on

    ray.data.from_pandas(frame).repartition(BLOCKS).write_parquet("atai://late/", filesystem=fs)

    assert len(fs.ls("late/")) == BLOCKS
    assert Path(fs.ls("late/", detail=False)[0]).suffix == ".parquet"
