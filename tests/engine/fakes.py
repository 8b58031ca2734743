"""In-memory stand-ins for the engine's unit tests: a virtual clock and an upload target.

The engine is vendor-neutral: what it promises (routes, concurrency, retries, one
cleanup, checkpoints, URL refresh) can be checked against a target that keeps its
parts in a dict.  The vendors' targets are tested against their emulators over HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from atai_fs.engine.body import PartBody
from atai_fs.engine.plan import PartSpec, UploadPlan
from atai_fs.engine.sources import PartSource
from atai_fs.engine.target import Completion, ResumeRequest, Resumption, UploadTarget
from atai_fs.errors import NotFound, UrlExpired


class FakeClock:
    """Time that passes only when something sleeps: waits cost nothing and every bound
    on time can be asserted exactly."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real wait would


class _Collector:
    """What a part body is written into (the bytes a real PUT would carry)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def write(self, chunk: bytes) -> None:
        self.chunks.append(bytes(chunk))


@dataclass
class FakeUpload:
    upload_id: str
    size: int
    parts: dict[int, bytes] = field(default_factory=dict)
    checkpointed: dict[int, str] = field(default_factory=dict)
    state: str = "in_progress"


class FakeTarget(UploadTarget):
    """An API that plans parts of ``part_size`` numbered from ``base``, stores them in
    memory and answers MD5 ETags.  Knobs make it misbehave on purpose:

    * ``fail_parts``: part number -> exceptions to raise, one per attempt;
    * ``hold``: an event every part PUT waits for (to see how many run at once);
    * ``one_request_limit``: files up to this size go in one request;
    * ``expires_in``: seconds until each URL expires (with ``clock``).
    """

    description = "fake://file"

    def __init__(
        self,
        *,
        part_size: int = 10,
        base: int = 1,
        fail_parts: Mapping[int, list[BaseException]] | None = None,
        hold: asyncio.Event | None = None,
        one_request_limit: int = -1,
        expires_in: float | None = None,
        clock: FakeClock | None = None,
        max_concurrency: int | None = None,
    ) -> None:
        self.part_size = part_size
        self.base = base
        self.fail_parts = {n: list(errors) for n, errors in (fail_parts or {}).items()}
        self.hold = hold
        self.one_request_limit = one_request_limit
        self.expires_in = expires_in
        self.clock = clock
        self.max_concurrency = max_concurrency
        self.uploads: dict[str, FakeUpload] = {}
        self.published: dict[str, bytes] = {}
        self.calls: Counter[str] = Counter()
        self.puts: list[int] = []
        self.refreshed: list[list[int]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.resumable_upload: str | None = None  # what resume() continues, if anything

    # -- planning -----------------------------------------------------------------------

    def _parts(
        self, upload_id: str, size: int, numbers: Sequence[int] | None = None
    ) -> list[PartSpec]:
        count = max(1, -(-size // self.part_size))
        expires = None if self.expires_in is None else self._now() + self.expires_in
        parts = []
        for index in range(count):
            number = index + self.base
            if numbers is not None and number not in numbers:
                continue
            offset = index * self.part_size
            parts.append(
                PartSpec(
                    number=number,
                    offset=offset,
                    length=max(0, min(self.part_size, size - offset)),
                    url=f"fake://{upload_id}/{number}?sig={len(self.refreshed)}",
                    expires_at=expires,
                )
            )
        return parts

    def _now(self) -> float:
        return self.clock() if self.clock is not None else 0.0

    async def initiate(self, size: int) -> UploadPlan:
        self.calls["initiate"] += 1
        upload_id = f"up{len(self.uploads) + 1}"
        self.uploads[upload_id] = FakeUpload(upload_id, size)
        parts = self._parts(upload_id, size)
        return UploadPlan(
            upload_id=upload_id,
            total_bytes=size,
            num_parts=len(parts),
            parts=parts,
            max_concurrency=self.max_concurrency,
        )

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        self.calls["refresh"] += 1
        self.refreshed.append(sorted(numbers))
        return self._parts(plan.upload_id, plan.total_bytes, numbers)

    # -- parts ---------------------------------------------------------------------------

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        self.calls["put"] += 1
        self.puts.append(part.number)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                await self.hold.wait()
            failures = self.fail_parts.get(part.number)
            if failures:
                raise failures.pop(0)
            if part.expires_at is not None and self._now() >= part.expires_at:
                raise UrlExpired(f"part {part.number}: expired", status=403)
            sink = _Collector()
            await body.write(sink)  # type: ignore[arg-type]
            data = b"".join(sink.chunks)
            upload = self.uploads[part.url.split("/")[2]]
            if upload.state != "in_progress":
                raise NotFound(f"upload {upload.upload_id} is {upload.state}", status=404)
            upload.parts[part.number] = data
            return f'"{hashlib.md5(data).hexdigest()}"'
        finally:
            self.in_flight -= 1

    async def checkpoint(self, plan: UploadPlan, tokens: Mapping[int, str]) -> None:
        self.calls["checkpoint"] += 1
        self.uploads[plan.upload_id].checkpointed.update(tokens)

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Completion:
        self.calls["complete"] += 1
        upload = self.uploads[plan.upload_id]
        every = {**upload.checkpointed, **tokens}
        numbers = sorted(upload.parts)
        if sorted(every) != numbers:
            raise AssertionError(f"complete lists {sorted(every)}, stored {numbers}")
        upload.state = "completed"
        self.published[plan.upload_id] = b"".join(upload.parts[n] for n in numbers)
        return {"upload_id": plan.upload_id, "crc32c": crc32c}

    async def abort(self, plan: UploadPlan) -> None:
        self.calls["abort"] += 1
        self.uploads[plan.upload_id].state = "aborted"

    # -- optional capabilities -------------------------------------------------------------

    def fits_one_request(self, size: int) -> bool:
        return size <= self.one_request_limit

    async def upload_whole(self, source: PartSource) -> Completion | None:
        self.calls["upload_whole"] += 1
        self.published["whole"] = bytes(source.read(0, source.size))
        return {"route": "one request"}

    async def resume(self, request: ResumeRequest) -> Resumption:
        self.calls["resume"] += 1
        record = request.record
        if record is not None and record.upload_id in self.uploads:
            upload = self.uploads[record.upload_id]
            missing = [n for n in range(self.base, self.base + 100) if n not in upload.checkpointed]
            parts = self._parts(upload.upload_id, upload.size, missing)
            plan = UploadPlan(
                upload_id=upload.upload_id,
                total_bytes=upload.size,
                num_parts=len(self._parts(upload.upload_id, upload.size)),
                parts=parts,
                is_resume=True,
            )
            return Resumption(plan=plan)
        return Resumption(plan=await self.initiate(request.size))

    def details(self) -> dict[str, Any]:
        return dict(self.calls)
