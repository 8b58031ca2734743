"""The uploader's promises, against an in-memory target: route, concurrency, retries,
one cleanup, checkpoints, URL refresh, resume rules, integrity."""

from __future__ import annotations

import asyncio
import os
import zlib

import pytest

from atai_fs.checksums import crc32c_update
from atai_fs.engine.concurrency import PartConcurrency
from atai_fs.engine.config import TransferConfig
from atai_fs.engine.integrity import EtagCheck
from atai_fs.engine.plan import UploadPlan
from atai_fs.engine.resume import ResumeJournal
from atai_fs.engine.retry import RetryPolicy
from atai_fs.engine.sources import BytesSource, FileSource
from atai_fs.engine.uploader import Uploader
from atai_fs.errors import (
    AuthError,
    InvalidRequest,
    PartCorrupted,
    ProtocolError,
    RequestFailed,
    UploadFailed,
    UrlExpired,
)

from .fakes import FakeClock, FakeTarget

PART = 10


def transient() -> RequestFailed:
    return RequestFailed("503 from the fake", status=503, retryable=True)


def uploader(target: FakeTarget, *, width: int = 4, clock: FakeClock | None = None, **config):
    clock = clock or FakeClock()
    config.setdefault("retry", RetryPolicy(attempts=3, clock=clock, sleep=clock.sleep))
    return Uploader(
        target,
        slots=PartConcurrency.fixed(width),
        config=TransferConfig(max_concurrency=width, **config),
        clock=clock,
    )


def run(coroutine):
    return asyncio.run(coroutine)


# -- routes --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, PART - 1, PART, PART + 1, 7 * PART + 3])
def test_parts_route_publishes_exactly_the_bytes(size):
    data = os.urandom(size)
    target = FakeTarget(part_size=PART)
    result = run(uploader(target).upload(BytesSource(data)))
    assert target.published[result["upload_id"]] == data
    assert target.calls["initiate"] == target.calls["complete"] == 1
    assert target.calls["abort"] == 0


def test_a_file_that_fits_one_request_takes_it():
    target = FakeTarget(part_size=PART, one_request_limit=100)
    assert run(uploader(target).upload(BytesSource(b"small"))) == {"route": "one request"}
    assert target.published["whole"] == b"small"
    assert target.calls["initiate"] == 0


def test_a_refused_one_request_falls_back_to_parts():
    class Refusing(FakeTarget):
        async def upload_whole(self, source):
            self.calls["upload_whole"] += 1
            return None

    target = Refusing(part_size=PART, one_request_limit=100)
    result = run(uploader(target).upload(BytesSource(b"x" * 25)))
    assert target.calls["upload_whole"] == 1
    assert target.published[result["upload_id"]] == b"x" * 25


def test_content_already_stored_sends_nothing():
    class Stored(FakeTarget):
        async def already_stored(self, source):
            return {"stored": True}

    target = Stored(part_size=PART)
    assert run(uploader(target).upload(BytesSource(b"abc"))) == {"stored": True}
    assert sum(target.calls.values()) == 0


def test_stage_then_publish_completes_only_at_publish():
    target = FakeTarget(part_size=PART)
    up = uploader(target)

    async def scenario():
        await up.stage(BytesSource(b"y" * 35))
        assert target.calls["complete"] == 0 and len(target.puts) == 4
        return await up.publish()

    result = run(scenario())
    assert target.published[result["upload_id"]] == b"y" * 35


# -- concurrency ---------------------------------------------------------------------------


@pytest.mark.parametrize("width,server_cap,expected", [(3, None, 3), (8, 2, 2), (1, None, 1)])
def test_parts_in_flight_are_bounded_by_the_slots_and_the_server(width, server_cap, expected):
    hold = asyncio.Event()
    target = FakeTarget(part_size=PART, hold=hold, max_concurrency=server_cap)

    async def scenario():
        task = asyncio.ensure_future(uploader(target, width=width).upload(BytesSource(b"z" * 95)))
        while target.in_flight < expected:  # every slot taken: the rest wait
            await asyncio.sleep(0)
        for _ in range(20):
            await asyncio.sleep(0)
        assert target.in_flight == expected
        hold.set()
        return await task

    run(scenario())
    assert target.max_in_flight <= expected


# -- retries and the one cleanup -----------------------------------------------------------


def test_transient_part_failures_are_retried_with_the_same_bytes():
    data = os.urandom(3 * PART)
    target = FakeTarget(part_size=PART, fail_parts={2: [transient(), transient()]})
    result = run(uploader(target).upload(BytesSource(data)))
    assert target.published[result["upload_id"]] == data
    assert target.puts.count(2) == 3


def test_a_failed_part_aborts_once_and_is_the_error_raised():
    refused = AuthError("403 for part 2", status=403)
    target = FakeTarget(part_size=PART, fail_parts={2: [refused]})
    with pytest.raises(AuthError) as caught:
        run(uploader(target).upload(BytesSource(b"q" * 60)))
    assert caught.value is refused
    assert target.calls["abort"] == 1
    assert target.calls["complete"] == 0
    assert target.published == {}


def test_several_failing_parts_still_abort_once():
    target = FakeTarget(
        part_size=PART, fail_parts={n: [InvalidRequest(f"400 {n}", status=400)] for n in (1, 2, 3)}
    )
    with pytest.raises(InvalidRequest):
        run(uploader(target, width=3).upload(BytesSource(b"w" * 30)))
    assert target.calls["abort"] == 1


def test_discard_of_a_streamed_write_aborts_once_and_waits_for_it():
    target = FakeTarget(part_size=PART)
    up = uploader(target)

    async def scenario():
        live = await up.begin(3 * PART)
        for part, spool in live.write(memoryview(b"a" * PART)):
            await up.send_part(part, spool)
            spool.close()
        await up.discard()
        await up.discard()

    run(scenario())
    assert target.calls["abort"] == 1
    (upload,) = target.uploads.values()
    assert upload.state == "aborted"


def test_a_part_sent_after_the_upload_failed_reports_the_first_failure():
    refused = AuthError("403", status=403)
    target = FakeTarget(part_size=PART, fail_parts={1: [refused]})
    up = uploader(target)

    async def scenario():
        live = await up.begin(2 * PART)
        (first, spool1), (second, spool2) = live.write(memoryview(b"b" * 2 * PART))
        with pytest.raises(AuthError):
            await up.send_part(first, spool1)
        with pytest.raises(AuthError) as later:
            await up.send_part(second, spool2)
        return later.value

    assert run(scenario()) is refused
    assert target.calls["abort"] == 1


def test_a_plan_that_does_not_cover_the_file_is_aborted_before_any_part():
    class Short(FakeTarget):
        async def initiate(self, size):
            plan = await super().initiate(size)
            return UploadPlan(plan.upload_id, size, 1, plan.parts[:1])

    target = Short(part_size=PART)
    with pytest.raises(ProtocolError):
        run(uploader(target).upload(BytesSource(b"c" * 25)))
    assert target.puts == [] and target.calls["abort"] == 1


# -- URLs ----------------------------------------------------------------------------------


def test_urls_about_to_expire_are_refreshed_in_one_batch_before_use():
    clock = FakeClock()
    target = FakeTarget(part_size=PART, expires_in=100, clock=clock)
    up = uploader(target, clock=clock, width=1, url_refresh_margin=60)

    async def scenario():
        live = await up.begin(5 * PART)
        clock.now += 55  # 45 s left of 100: within half the lifetime (50 s), so due
        for part, spool in live.write(memoryview(b"d" * 5 * PART)):
            await up.send_part(part, spool)
            spool.close()
        return await up.finish()

    run(scenario())
    assert target.refreshed == [[1, 2, 3, 4, 5]]


def test_an_expired_url_is_refreshed_and_the_part_resent():
    target = FakeTarget(part_size=PART, fail_parts={1: [UrlExpired("expired", status=403)]})
    result = run(uploader(target).upload(BytesSource(b"e" * 15)))
    assert target.refreshed == [[1]]
    assert target.published[result["upload_id"]] == b"e" * 15


# -- checkpoints and resume ----------------------------------------------------------------


def test_resumable_failure_checkpoints_and_leaves_the_upload_named(tmp_path):
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(20 * PART))
    target = FakeTarget(part_size=PART, fail_parts={15: [InvalidRequest("400", status=400)]})
    journal = ResumeJournal(tmp_path / "records")
    source = FileSource(local)
    try:
        with pytest.raises(UploadFailed, match="run the same put_file again") as caught:
            run(uploader(target, width=1).upload_resumable(source, journal, "dest"))
    finally:
        source.close()
    (upload,) = target.uploads.values()
    assert caught.value.upload_id == upload.upload_id
    assert upload.state == "in_progress" and target.calls["abort"] == 0
    assert set(upload.checkpointed) == set(range(1, 15))
    assert journal.read("dest").upload_id == upload.upload_id


def test_a_rerun_resumes_and_sends_only_the_missing_parts(tmp_path):
    data = os.urandom(20 * PART)
    local = tmp_path / "f.bin"
    local.write_bytes(data)
    target = FakeTarget(part_size=PART, fail_parts={15: [InvalidRequest("400", status=400)]})
    journal = ResumeJournal(tmp_path / "records")
    for _ in range(2):
        source = FileSource(local)
        try:
            result = run(uploader(target, width=1).upload_resumable(source, journal, "dest"))
        except UploadFailed:
            continue
        finally:
            source.close()
    assert target.published[result["upload_id"]] == data
    assert target.puts.count(1) == 1 and target.puts.count(15) == 2
    assert journal.read("dest") is None


def test_checkpoints_are_batched_never_one_call_per_part(tmp_path):
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(128 * PART))
    target = FakeTarget(part_size=PART)
    source = FileSource(local)
    try:
        run(uploader(target).upload_resumable(source, ResumeJournal(tmp_path), "d"))
    finally:
        source.close()
    assert target.calls["checkpoint"] <= 128 // 16 + 1


# -- integrity -----------------------------------------------------------------------------


def test_whole_file_crc32c_is_combined_from_the_parts():
    data = os.urandom(7 * PART + 3)

    class WantsCrc(FakeTarget):
        async def initiate(self, size):
            plan = await super().initiate(size)
            return UploadPlan(
                plan.upload_id, size, plan.num_parts, plan.parts, integrity_algorithm="crc32c"
            )

    target = WantsCrc(part_size=PART)
    result = run(uploader(target, width=3).upload(BytesSource(data)))
    assert result["crc32c"] == crc32c_update(0, data)
    assert result["crc32c"] != zlib.crc32(data)  # Castagnoli, not the zlib polynomial


def test_a_wrong_md5_etag_is_resent():
    class Corrupting(FakeTarget):
        async def put_part(self, part, body):
            token = await super().put_part(part, body)
            if part.number == 2 and self.puts.count(2) == 1:
                return '"00000000000000000000000000000000"'
            return token

    target = Corrupting(part_size=PART)
    run(uploader(target).upload(BytesSource(os.urandom(3 * PART))))
    assert target.puts.count(2) == 2


class OpaqueEtags(FakeTarget):
    """Storage whose ETags look like MD5s but are not (SSE-KMS, SSE-C, some S3 stores)."""

    async def put_part(self, part, body):
        await super().put_part(part, body)
        return f'"{os.urandom(16).hex()}"'


def test_auto_etag_check_learns_opaque_etags_and_warns_once(caplog):
    data = os.urandom(6 * PART)
    target = OpaqueEtags(part_size=PART)
    etags = EtagCheck("auto")
    for _ in range(2):  # a second upload of the same filesystem resends nothing
        up = Uploader(
            target,
            slots=PartConcurrency.fixed(1),
            config=TransferConfig(max_concurrency=1, retry=RetryPolicy(base_delay=0)),
            etags=etags,
        )
        with caplog.at_level("WARNING", logger="atai_fs"):
            result = run(up.upload(BytesSource(data)))
        assert target.published[result["upload_id"]] == data
    assert etags.found_opaque
    assert len(target.puts) == 6 + 1 + 6  # only the first part, once more, to conclude
    assert sum("are opaque" in record.message for record in caplog.records) == 1


def test_auto_etag_check_repairs_a_corrupted_part_and_keeps_checking():
    class CorruptOnce(FakeTarget):
        async def put_part(self, part, body):
            token = await super().put_part(part, body)
            if part.number == 2 and self.puts.count(2) == 1:
                return '"00000000000000000000000000000000"'
            return token

    target = CorruptOnce(part_size=PART)
    etags = EtagCheck("auto")
    up = Uploader(target, slots=PartConcurrency.fixed(4), config=TransferConfig(), etags=etags)
    run(up.upload(BytesSource(os.urandom(3 * PART))))
    assert target.puts.count(2) == 2
    assert etags.active and not etags.found_opaque


def test_strict_etag_check_never_accepts_opaque_etags():
    with pytest.raises(PartCorrupted):
        run(uploader(OpaqueEtags(part_size=PART), verify_etag=True).upload(BytesSource(b"o" * 15)))


def test_no_etag_check_never_resends():
    target = OpaqueEtags(part_size=PART)
    run(uploader(target, verify_etag=False).upload(BytesSource(b"o" * 35)))
    assert len(target.puts) == 4


def test_an_md5_etag_after_the_opaque_verdict_resumes_checking():
    etags = EtagCheck("auto")
    assert etags.judge(matches=False, resent_before=True, where="p") == "keep"
    assert etags.found_opaque
    assert etags.judge(matches=True, resent_before=False, where="p") == "keep"
    assert not etags.found_opaque
    assert etags.judge(matches=False, resent_before=False, where="p") == "resend"
