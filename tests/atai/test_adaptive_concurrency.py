"""Adaptive part concurrency against the emulator's bandwidth shaping: each PUT is capped
at 1 MB/s and all of them share an 8 MB/s link, so eight parts in flight fill it.

Starting from two, the filesystem must find the knee (at least eight, at most sixteen),
hold it without sawing, never pass its cap, and deliver the file intact.  Bounds are
generous: the measurement runs on real sockets on a shared machine.
"""

from __future__ import annotations

import itertools
import os

from fsspec.callbacks import Callback

from atai_fs.emulator import ATAIEmulator

from ..conftest import download, make_fs

PART = 256 << 10


class SettledLevels(Callback):
    """Records the settled concurrency each time a part finishes."""

    def __init__(self, fs) -> None:
        super().__init__()
        self.fs = fs
        self.levels: list[int] = []

    def call(self, *args, **kwargs) -> None:
        controller = self.fs.part_concurrency
        if controller is not None:
            self.levels.append(controller.settled)


def test_it_finds_the_knee_of_a_shaped_link_and_holds_it(tmp_path):
    data = os.urandom(120 * PART)
    local = tmp_path / "shaped.bin"
    local.write_bytes(data)
    with ATAIEmulator(part_size=PART, put_bandwidth=1e6, link_bandwidth=8e6) as emulator:
        fs = make_fs(emulator, initial_concurrency=2, max_concurrency=32)
        levels = SettledLevels(fs)
        fs.put_file(str(local), "shaped.bin", callback=levels)
        controller = fs.part_concurrency
        assert controller is not None
        assert download(emulator, "shaped.bin") == data
        assert emulator.stats.max_puts_in_flight <= 32
        assert controller.max_in_flight <= 32
        assert 6 <= controller.settled <= 16, controller.history
        second_half = levels.levels[len(levels.levels) // 2 :]
        changes = sum(1 for a, b in itertools.pairwise(second_half) if a != b)
        assert changes <= 3, controller.history


def test_adaptive_false_pins_the_concurrency(tmp_path):
    local = tmp_path / "pinned.bin"
    local.write_bytes(os.urandom(24 * PART))
    with ATAIEmulator(part_size=PART, put_bandwidth=4e6) as emulator:
        fs = make_fs(emulator, max_concurrency=3, adaptive=False)
        fs.put_file(str(local), "pinned.bin")
        controller = fs.part_concurrency
        assert controller is not None
        assert [limit for _, limit in controller.history] == [3]
        assert emulator.stats.max_puts_in_flight <= 3
