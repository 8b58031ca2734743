"""Async use: ``await fs.open_async(path, "wb")`` streams like the blocking file and
aborts like it; the session closes with ``async with fs`` or ``close_session()`` and no
warning; blocking ``open()`` on an asynchronous filesystem says what to use instead."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import warnings

import pytest

from atai_fs import ATAIFileSystem, AtaiFsError, InvalidRequest
from tests.conftest import PART_SIZE, download, stored_names, wait_for
from tests.sizes import SIZES

from ..integration.test_callbacks import Recorder, assert_reports_exactly


def async_fs(emulator, **options) -> ATAIFileSystem:
    return ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        asynchronous=True,
        skip_instance_cache=True,
        **options,
    )


def run(emulator, scenario, **options):
    """Run ``scenario(fs)`` on a fresh event loop with an asynchronous filesystem whose
    session is closed at the end."""

    async def main():
        async with async_fs(emulator, **options) as fs:
            return await scenario(fs)

    return asyncio.run(main())


async def write_in_chunks(f, data: bytes, chunk: int = 10_000) -> None:
    for start in range(0, len(data), chunk):
        await f.write(data[start : start + chunk])


@pytest.mark.parametrize("announced", [False, True], ids=["unknown-size", "known-size"])
@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_open_async_publishes_exactly_the_bytes_written(emulator, announced, size):
    data = os.urandom(size)

    async def scenario(fs):
        options = {"size": size} if announced else {}
        async with await fs.open_async("data.bin", "wb", **options) as f:
            await write_in_chunks(f, data)

    run(emulator, scenario)
    assert download(emulator, "data.bin") == data
    assert emulator.orphans() == []


def test_a_known_size_sends_parts_while_writing(emulator):
    data = os.urandom(6 * PART_SIZE)

    async def scenario(fs):
        async with await fs.open_async("streamed.bin", "wb", size=len(data)) as f:
            await f.write(data[: 4 * PART_SIZE])
            sent_before_close = await asyncio.to_thread(
                wait_for, lambda: emulator.stats.part_puts >= 3
            )
            await f.write(data[4 * PART_SIZE :])
        return sent_before_close

    assert run(emulator, scenario)
    assert download(emulator, "streamed.bin") == data


@pytest.mark.parametrize("announced", [False, True], ids=["unknown-size", "known-size"])
def test_an_exception_in_async_with_aborts_the_upload(emulator, announced):
    data = os.urandom(5 * PART_SIZE)

    async def scenario(fs):
        options = {"size": len(data)} if announced else {}
        with pytest.raises(KeyError):
            async with await fs.open_async("half.bin", "wb", **options) as f:
                await f.write(data[: 3 * PART_SIZE])
                raise KeyError("the request body broke off")

    run(emulator, scenario)
    assert "half.bin" not in stored_names(emulator)
    assert emulator.orphans() == []


def test_writing_more_than_the_size_announced_aborts(emulator):
    async def scenario(fs):
        f = await fs.open_async("sized.bin", "wb", size=2 * PART_SIZE)
        with pytest.raises(InvalidRequest, match="size=131072"):
            await f.write(os.urandom(3 * PART_SIZE))
        assert f.closed

    run(emulator, scenario)
    assert "sized.bin" not in stored_names(emulator)
    assert emulator.orphans() == []


def test_a_failed_part_aborts_and_is_raised(emulator):
    emulator.faults.add(route="storage_put", status=400, nth=2)

    async def scenario(fs):
        with pytest.raises(AtaiFsError, match="HTTP 400"):
            async with await fs.open_async("failing.bin", "wb", size=6 * PART_SIZE) as f:
                await write_in_chunks(f, os.urandom(6 * PART_SIZE), PART_SIZE)

    run(emulator, scenario)
    assert "failing.bin" not in stored_names(emulator)
    assert emulator.orphans() == []


def test_an_async_file_collected_unclosed_is_aborted(emulator, caplog):
    async def scenario(fs):
        f = await fs.open_async("forgotten.bin", "wb", size=3 * PART_SIZE)
        await f.write(os.urandom(PART_SIZE + 10))
        del f
        gc.collect()
        for _ in range(100):  # the abort was scheduled on this loop: let it run
            if not emulator.orphans():
                break
            await asyncio.sleep(0.05)

    run(emulator, scenario)
    assert emulator.orphans() == []
    assert "garbage-collected without close()" in caplog.text


def test_open_async_xb_refuses_an_existing_file(emulator):
    async def scenario(fs):
        await fs._pipe_file("there.bin", b"x")
        with pytest.raises(FileExistsError):
            await fs.open_async("there.bin", "xb")

    run(emulator, scenario)


def test_open_async_reads_back_in_ranges(emulator):
    data = os.urandom(3 * PART_SIZE + 5)

    async def scenario(fs):
        await fs._pipe_file("read.bin", data)
        async with await fs.open_async("read.bin", "rb") as f:
            head = await f.read(100)
            rest = await f.read()
        return head, rest

    head, rest = run(emulator, scenario)
    assert head + rest == data and len(head) == 100


def test_open_async_tells_its_callback_every_byte(emulator):
    data = os.urandom(5 * PART_SIZE + 7)
    recorder = Recorder()

    async def scenario(fs):
        async with await fs.open_async("cb.bin", "wb", size=len(data), callback=recorder) as f:
            await write_in_chunks(f, data)

    run(emulator, scenario)
    assert_reports_exactly(recorder, len(data))


def test_blocking_open_on_an_asynchronous_filesystem_points_at_open_async(emulator):
    async def scenario(fs):
        for mode in ("wb", "rb"):
            with pytest.raises(NotImplementedError, match=r"await fs\.open_async\("):
                fs.open("x.bin", mode)

    run(emulator, scenario)


def test_open_async_on_a_protocol_without_a_read_side_says_so():
    async def scenario():
        from atai_fs.fs.flow import FlowFileSystem

        fs = FlowFileSystem(endpoint_url="http://127.0.0.1:9/", asynchronous=True)
        with pytest.raises(InvalidRequest, match="cannot be read"):
            await fs.open_async("flow://run/edge", "rb")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "style,warned",
    [("async-with", False), ("close_session", False), ("left-open", True)],
)
def test_closing_the_session_leaves_no_unclosed_warning(emulator, caplog, style, warned):
    async def main():
        fs = async_fs(emulator)
        if style == "async-with":
            async with fs:
                await fs._pipe_file("a.bin", b"a")
        else:
            await fs._pipe_file("a.bin", b"a")
            if style == "close_session":
                await fs.close_session()
        return fs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            fs = asyncio.run(main())
            del fs
            gc.collect()
    unclosed = [str(w.message) for w in caught if "Unclosed" in str(w.message)]
    assert bool(unclosed) == warned
    assert ("Unclosed client session" in caplog.text) == warned
