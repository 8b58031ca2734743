"""Fixtures: an Aionvision emulator with a small streaming limit, a filesystem on it."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atai_fs import RetryPolicy
from atai_fs.emulator.aionvision import AionVisionEmulator
from atai_fs.fs.aionvision import AionVisionFileSystem

#: Streaming limit of emulator and client in tests: files above it go presigned.
LIMIT = 64 * 1024

#: Fast retries, so fault tests stay short.
FAST_RETRY = RetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AionVisionEmulator]:
    with AionVisionEmulator(
        data_dir=tmp_path_factory.mktemp("aionvision"), stream_limit=LIMIT
    ) as emulator:
        yield emulator


def make_fs(emulator: AionVisionEmulator, **options) -> AionVisionFileSystem:
    """A fresh filesystem on ``emulator``: no pacing, fast retries and polls."""
    settings = {
        "rate_limit": "off",
        "stream_limit": LIMIT,
        "poll_interval": 0.01,
        "retry": FAST_RETRY,
        **options,
    }
    return AionVisionFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        skip_instance_cache=True,
        **settings,
    )


@pytest.fixture
def fs(emulator: AionVisionEmulator) -> AionVisionFileSystem:
    return make_fs(emulator)


def local_file(directory: Path, name: str, size: int) -> tuple[str, bytes]:
    """A local file of random bytes; returns its path and content."""
    data = os.urandom(size)
    path = directory / name
    path.write_bytes(data)
    return str(path), data


def stored(emulator: AionVisionEmulator, image_id: str | None) -> bytes:
    assert image_id is not None
    return emulator.files[image_id].read_bytes()


class VirtualClock:
    """Wall-clock seconds that pass only when the client waits (or a test advances
    them); the emulator's ``now`` and the client's retry clock and sleep share it."""

    def __init__(self) -> None:
        self._now = time.time()
        self._lock = threading.Lock()
        self.slept = 0.0

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        with self._lock:
            self.slept += max(0.0, seconds)
        await asyncio.sleep(0)
