"""A storage outage in the middle of an upload: waited out within the client's patience,
a clear final error beyond it, and never an upload left behind by accident.

The outage is an emulator fault with a time window (every ``storage_put`` answers 503
for ``duration`` seconds), added once the first parts have landed, so it always falls
in the middle of the upload.  Outages of a few seconds are played in real time with a
proportionally impatient client; the minute-long outages of the issue are played on a
virtual clock shared by the emulator (its fault windows) and the client (its retry
policy), which passes only when the client waits: honest for one part in flight at a
time (``max_concurrency=1``), where only one wait runs at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from fsspec.callbacks import Callback

from atai_fs import AtaiFsError, RetryPolicy
from atai_fs.emulator import ATAIEmulator
from tests.conftest import download, make_fs, stored_names
from tests.sizes import PART_SIZE

#: Ten parts and a tail: the outage starts after the second.
FILE_SIZE = 10 * PART_SIZE + 123
OUTAGE_AFTER_PARTS = 2

#: Patience scaled to outages of seconds: tries at most 0.2 s apart.
QUICK_BACKOFF = {"base_delay": 0.02, "max_delay": 0.2}

_GAVE_UP = re.compile(r"gave up after (\d+) tries over ([\d.]+) s")


class VirtualClock:
    """Seconds that pass only when the client waits; read by the emulator's thread too."""

    def __init__(self) -> None:
        self._now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    async def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)
        await asyncio.sleep(0.001)  # let the loop run, as a real wait would


class OutageMidway(Callback):  # type: ignore[misc]  # fsspec is untyped
    """Starts a storage outage once ``after_parts`` parts have been delivered."""

    def __init__(self, emulator: ATAIEmulator, duration: float | None) -> None:
        super().__init__()
        self.emulator = emulator
        self.duration = duration
        self.started = False

    def call(self, *args: Any, **kwargs: Any) -> None:
        if not self.started and self.value >= OUTAGE_AFTER_PARTS * PART_SIZE:
            self.started = True
            self.emulator.faults.add(route="storage_put", status=503, duration=self.duration)


WRITES = {
    "put_file": lambda fs, local, **kw: fs.put_file(local, "atai://big.bin", **kw),
    "put_file(resume=False)": lambda fs, local, **kw: fs.put_file(
        local, "atai://big.bin", resume=False, **kw
    ),
    "pipe_file": lambda fs, local, **kw: fs.pipe_file("atai://big.bin", local.read_bytes(), **kw),
}


@pytest.fixture
def local(tmp_path: Path) -> Path:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(FILE_SIZE))
    return path


def outage_fired(emulator: ATAIEmulator) -> int:
    return sum(emulator.faults.fired.values())


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_storage_outage_midway_is_waited_out(tmp_path, local, write):
    with ATAIEmulator(data_dir=tmp_path / "emulator", part_size=PART_SIZE) as emulator:
        fs = make_fs(emulator, max_concurrency=2, retry=RetryPolicy(deadline=30, **QUICK_BACKOFF))
        outage = OutageMidway(emulator, duration=1.5)
        write(fs, local, callback=outage)
        assert outage.started and outage_fired(emulator) >= 1  # it did hit the upload
        assert download(emulator, "big.bin") == local.read_bytes()
        assert emulator.orphans() == []


def test_a_minute_long_outage_is_waited_out_by_the_default_patience(tmp_path, local):
    clock = VirtualClock()
    with ATAIEmulator(data_dir=tmp_path / "emulator", part_size=PART_SIZE, clock=clock) as emu:
        # The default policy (300 s, backoff up to 30 s), on the shared clock.
        fs = make_fs(emu, max_concurrency=1, retry=RetryPolicy(clock=clock, sleep=clock.sleep))
        outage = OutageMidway(emu, duration=60.0)
        fs.put_file(str(local), "atai://big.bin", callback=outage)
        assert outage.started and outage_fired(emu) >= 2
        assert clock() >= 60.0  # the client waited (virtually) through the whole minute
        assert download(emu, "big.bin") == local.read_bytes()
        assert emu.orphans() == []


def test_an_outage_beyond_the_patience_fails_saying_how_long_it_tried(tmp_path, local):
    with ATAIEmulator(data_dir=tmp_path / "emulator", part_size=PART_SIZE) as emulator:
        fs = make_fs(emulator, max_concurrency=2, retry=RetryPolicy(deadline=1.0, **QUICK_BACKOFF))
        outage = OutageMidway(emulator, duration=None)  # never ends
        with pytest.raises(AtaiFsError) as caught:
            fs.put_file(str(local), "atai://big.bin", resume=False, callback=outage)
        assert int(_GAVE_UP.search(str(caught.value)).group(1)) >= 2  # type: ignore[union-attr]
        assert "503" in str(caught.value)
        assert stored_names(emulator) == set()
        assert emulator.orphans() == []  # aborted
        assert [u.state for u in emulator.uploads.values()] == ["aborted"]


def test_a_ten_minute_outage_exhausts_the_default_patience_then_resumes(tmp_path, local):
    clock = VirtualClock()
    with ATAIEmulator(data_dir=tmp_path / "emulator", part_size=PART_SIZE, clock=clock) as emu:
        fs = make_fs(emu, max_concurrency=1, retry=RetryPolicy(clock=clock, sleep=clock.sleep))
        outage = OutageMidway(emu, duration=600.0)
        with pytest.raises(AtaiFsError) as caught:
            fs.put_file(str(local), "atai://big.bin", callback=outage)
        message = str(caught.value)
        tries, seconds = _GAVE_UP.search(message).groups()  # type: ignore[union-attr]
        # Backoff never waits more than 30 s, so it gives up in the last 30 s of its 300.
        assert int(tries) >= 5 and 270.0 < float(seconds) <= 300.0
        # A resumable put_file keeps what was sent and says how to go on...
        (upload,) = emu.orphans()
        assert upload.upload_id in message and "run the same put_file again" in message
        assert stored_names(emu) == set()
        # ...and once the storage is back, the same call finishes it.
        emu.faults.clear()
        puts_before = emu.stats.part_puts
        fs.put_file(str(local), "atai://big.bin")
        assert emu.stats.part_puts - puts_before <= 11 - OUTAGE_AFTER_PARTS
        assert download(emu, "big.bin") == local.read_bytes()
        assert emu.orphans() == []
