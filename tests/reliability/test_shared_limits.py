"""Eight processes of one machine share the documented rate limits instead of storming
into 429s together.

A smaller faithful version of the scenario of ``python -m benchmarks --only
shared_limits`` (which runs the full size beside the official client): eight real OS
processes, started together, each ``fs.put`` small files and one multipart file into an
emulator enforcing the documented limits (bursts of 20/s, 100/min), with the client's
defaults except the limiter's state file, which lives in this test's cache directory
(``XDG_CACHE_HOME``), not the user's.  The calls are kept few (40) because the client
paces itself to the sustained 100/min after its first burst of 20: the test takes
seconds, not minutes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from pathlib import Path
from typing import Any

import pytest

from atai_fs.emulator import ATAIEmulator
from tests.conftest import download
from tests.sizes import PART_SIZE

PROCESSES = 8
SMALL_FILES = 3  # per process: one POST /files each
SMALL_SIZE = 2000
MULTIPART_SIZE = 3 * PART_SIZE + 100  # four parts: initiate and complete
CALLS = PROCESSES * (SMALL_FILES + 2)
#: The issue's bound; with the shared budget the emulator sees none in practice.
MAX_429_SHARE = 0.10
_WAIT = 120.0  # seconds a process may take before the test gives up on it


def _put_from_a_process(
    endpoint: str, api_key: str, paths: list[str], share: bool, start: Any, results: Any
) -> None:
    """One process's work: build the filesystem, wait for the others, then ``fs.put``."""
    from atai_fs import ATAIFileSystem

    fs = ATAIFileSystem(
        api_key=api_key, endpoint_url=endpoint, share_rate_limit=share, skip_instance_cache=True
    )
    try:
        start.wait(_WAIT)
        fs.put(paths, "atai://")
        results.put(None)
    except BaseException as exc:
        results.put(f"{type(exc).__name__}: {exc}")


def _files(tmp_path: Path) -> dict[int, list[Path]]:
    """Each process's files: small CSVs and one multipart binary, named apart."""
    work: dict[int, list[Path]] = {}
    for index in range(PROCESSES):
        paths = []
        for number in range(SMALL_FILES):
            path = tmp_path / "data" / f"p{index}-small{number}.csv"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(os.urandom(SMALL_SIZE))
            paths.append(path)
        big = tmp_path / "data" / f"p{index}-multipart.bin"
        big.write_bytes(os.urandom(MULTIPART_SIZE))
        paths.append(big)
        work[index] = paths
    return work


def _run_processes(emulator: ATAIEmulator, work: dict[int, list[Path]], share: bool) -> list[Any]:
    """Start a process per entry of ``work``, release them together, collect outcomes."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(
            target=_put_from_a_process,
            args=(
                emulator.endpoint_url,
                emulator.api_key,
                [str(p) for p in paths],
                share,
                start,
                results,
            ),
        )
        for paths in work.values()
    ]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in processes:
            outcomes.append(results.get(timeout=_WAIT))
    except queue.Empty:
        outcomes.append("a process did not report in time")
    finally:
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
    return outcomes


def _scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, share: bool) -> dict[str, Any]:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))  # the limiter's state file goes here
    monkeypatch.delenv("ATAI_RATE_LIMIT", raising=False)  # the documented limits
    work = _files(tmp_path)
    data_dir = tmp_path / "emulator"
    with ATAIEmulator(data_dir=data_dir, part_size=PART_SIZE, rate_limit=True) as emulator:
        outcomes = _run_processes(emulator, work, share)
        stats = emulator.stats.snapshot()
        orphans = emulator.orphans()
    # The files as stored, read from an emulator without rate limit on the same data.
    with ATAIEmulator(data_dir=data_dir, part_size=PART_SIZE) as reader:
        mismatched = [
            path.name
            for paths in work.values()
            for path in paths
            if download(reader, path.name) != path.read_bytes()
        ]
    return {
        "outcomes": outcomes,
        "stats": stats,
        "orphans": orphans,
        "mismatched": mismatched,
        "state_files": sorted((cache / "atai_fs" / "limits").glob("*.json")),
    }


def _share_429(stats: dict[str, Any]) -> float:
    return stats["rate_limited"] / stats["api_requests"]


def test_eight_processes_share_the_documented_limits(tmp_path, monkeypatch):
    result = _scenario(tmp_path, monkeypatch, share=True)
    assert result["outcomes"] == [None] * PROCESSES
    assert result["mismatched"] == []  # every file landed, byte-identical
    assert result["orphans"] == []
    stats = result["stats"]
    assert stats["files_published"] == PROCESSES * (SMALL_FILES + 1)
    assert stats["api_requests"] - stats["rate_limited"] == CALLS  # no call wasted
    assert _share_429(stats) <= MAX_429_SHARE
    assert len(result["state_files"]) == 1  # one budget, in the test's cache directory


def test_without_sharing_the_same_processes_still_land_every_file(tmp_path, monkeypatch):
    """The control: each process paces itself alone.  How many of its calls meet a 429
    depends on how closely the machine runs the eight bursts together, so it is measured
    by the benchmark (91 % for the official client's loop), not asserted here; what must
    hold whatever the schedule is that 429s are retried and nothing is lost or shared."""
    result = _scenario(tmp_path, monkeypatch, share=False)
    assert result["outcomes"] == [None] * PROCESSES
    assert result["mismatched"] == [] and result["orphans"] == []
    assert result["stats"]["files_published"] == PROCESSES * (SMALL_FILES + 1)
    assert result["state_files"] == []
