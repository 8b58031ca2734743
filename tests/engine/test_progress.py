"""Upload progress: counted per chunk, reported about ten times a second, a retried part
never counted twice, ending at the size exactly."""

from __future__ import annotations

import asyncio
import os

from fsspec.callbacks import Callback

from atai_fs.engine.config import TransferConfig
from atai_fs.engine.progress import REPORT_INTERVAL, ClosedWithTransfer, Progress
from atai_fs.engine.retry import RetryPolicy
from atai_fs.engine.sources import BytesSource
from atai_fs.engine.uploader import Uploader
from atai_fs.errors import RequestFailed

from .fakes import FakeClock, FakeTarget


class Recorder(Callback):
    def __init__(self) -> None:
        super().__init__()
        self.history: list[tuple[int | None, int]] = []
        self.closed = False

    def call(self, *args, **kwargs) -> None:
        self.history.append((self.size, self.value))

    def close(self) -> None:
        self.closed = True

    @property
    def values(self) -> list[int]:
        return [value for _, value in self.history]


class OwnBar(ClosedWithTransfer, Recorder):
    pass


def test_chunks_are_reported_at_most_once_per_interval():
    clock = FakeClock()
    recorder = Recorder()
    progress = Progress(recorder, clock=clock)
    progress.start(100)
    for done in range(10, 100, 10):  # nine chunks within one interval: one report at most
        progress.reached(1, done)
        clock.now += REPORT_INTERVAL / 10
    assert len(recorder.history) <= 2
    clock.now += REPORT_INTERVAL
    progress.reached(1, 95)
    assert recorder.value == 95
    progress.reached(1, 100)  # the last byte is reported at once
    assert recorder.history[-1] == (100, 100)


def test_a_retried_attempt_counts_only_bytes_beyond_the_first():
    clock = FakeClock()
    recorder = Recorder()
    progress = Progress(recorder, clock=clock, interval=0)
    progress.start(30)
    progress.reached(1, 10)
    progress.reached(1, 20)  # then the attempt fails
    for done in (10, 20, 30):  # the retry
        progress.reached(1, done)
    progress.part_sent(1, 30)
    assert recorder.values == sorted(recorder.values)
    assert max(recorder.values) == 30
    assert recorder.history[-1] == (30, 30)


def test_bytes_already_there_are_the_first_value_heard():
    recorder = Recorder()
    Progress(recorder).start(100, already_there=40)
    assert recorder.history == [(100, 40)]


def test_a_bar_made_for_the_transfer_is_closed_at_its_end_and_hears_nothing_after():
    bar = OwnBar()
    progress = Progress(bar, clock=FakeClock())
    progress.start(20)
    progress.reached(1, 5)
    progress.end()
    assert bar.closed and bar.value == 5
    progress.reached(1, 10)  # a part still in flight when the upload failed
    assert bar.value == 5


def test_a_callback_the_caller_passed_is_not_closed():
    recorder = Recorder()
    progress = Progress(recorder)
    progress.start(1)
    progress.end()
    assert not recorder.closed


def test_an_upload_with_retried_parts_reports_monotonically_up_to_its_size():
    clock = FakeClock()
    data = os.urandom(7 * 10 + 3)
    target = FakeTarget(
        part_size=10, fail_parts={2: [RequestFailed("503", status=503, retryable=True)]}
    )
    recorder = Recorder()
    uploader = Uploader(
        target,
        slots=asyncio.Semaphore(2),
        config=TransferConfig(
            max_concurrency=2, chunk_size=3, retry=RetryPolicy(clock=clock, sleep=clock.sleep)
        ),
        callback=recorder,
        clock=clock,
    )
    asyncio.run(uploader.upload(BytesSource(data)))
    assert recorder.history[0] == (len(data), 0)
    assert recorder.values == sorted(recorder.values)
    assert recorder.history[-1] == (len(data), len(data))
