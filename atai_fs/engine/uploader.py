"""Drives one upload from start to a published file, or to an abort.

The uploader owns the *when* of an upload; its target (:mod:`atai_fs.engine.target`)
owns the *how* for one API.  The uploader:

* **chooses the route**: the content is stored already (no upload), one request for a
  file that fits it, or the server's part plan;
* runs part PUTs concurrently, bounded by ``slots`` (one
  :class:`~atai_fs.engine.concurrency.PartConcurrency` shared by every upload of a
  filesystem, which finds how many parts in flight the path rewards, so ``put`` of many
  files stays bounded too) and by the server's own per-upload cap;
* retries every call and part with the one :class:`~atai_fs.engine.retry.RetryPolicy`,
  resending exactly the same bytes;
* refreshes URLs before they expire (in batches) and after the storage refuses one;
* checks each part's ETag against the MD5 of the bytes sent, and computes the
  whole-file CRC32C when the API wants one;
* batches checkpoints of resumable uploads and reports progress as bytes are sent
  (:mod:`atai_fs.engine.progress`);
* **cleans up exactly once**: the moment the server holds an upload, its cleanup is
  registered (abort; for a resumable upload, a last checkpoint and an error naming the
  upload), and any failure of any step, any exception of the caller
  (:meth:`Uploader.discard`), runs it; an interrupt while the server is creating the
  upload waits for its answer, so no upload is ever orphaned.  A file becomes visible
  only through a successful complete.

Three ways to drive it:

* :meth:`Uploader.upload` when every byte is available (a local file, bytes, a finished
  spool); :meth:`Uploader.stage` then :meth:`Uploader.publish` for the same in two
  steps (an fsspec transaction publishes at commit);
* :meth:`Uploader.begin`, :meth:`Uploader.send_part` as parts fill, :meth:`Uploader.finish`,
  for writes of known size that stream parts while the writer writes;
* :meth:`Uploader.upload_resumable` for a local file whose upload a later run may resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TypeVar

from fsspec.callbacks import Callback

from ..advice import rerun
from ..checksums import crc32c_of_parts, crc32c_update, md5_of_etag
from ..errors import (
    AtaiFsError,
    AuthError,
    Conflict,
    PartCorrupted,
    ProtocolError,
    UploadFailed,
    UrlExpired,
)
from .body import PartBody, chunk_size_for, hashing_off_loop_pays
from .checkpoints import Checkpoints
from .concurrency import PartConcurrency
from .config import TransferConfig
from .integrity import EtagCheck
from .plan import PartSpec, PartUrls, UploadPlan
from .progress import Progress
from .resume import LocalFileIdentity, ResumeJournal, ResumeRecord
from .sources import Buffer, FileSource, LiveParts, PartSource
from .target import Completion, ResumeRequest, UploadTarget

__all__ = ["LEFT_RESUMABLE", "Uploader", "collect_left_resumable"]

log = logging.getLogger("atai_fs")

#: Uploads a cancelled call left resumable, for the error of the call that cancelled
#: them (``put`` of many files lists its siblings; see :func:`collect_left_resumable`).
LEFT_RESUMABLE: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "atai_fs_left_resumable", default=None
)


@contextlib.contextmanager
def collect_left_resumable() -> Iterator[list[str]]:
    """The notes of uploads left resumable by cancellation inside this block (also
    handed to an enclosing block, which hears of every upload within).  A collected note
    is not logged: the collector says it (the CLI, once its progress bars are closed)."""
    outer = LEFT_RESUMABLE.get()
    notes: list[str] = []
    token = LEFT_RESUMABLE.set(notes)
    try:
        yield notes
    finally:
        LEFT_RESUMABLE.reset(token)
        if outer is not None:
            outer.extend(notes)


#: Seconds an interrupted caller still waits for the answer of a call that creates an
#: upload, so that the upload is known and cleaned up rather than orphaned.
ANSWER_GRACE = 30.0


async def answer_even_if_cancelled(call: Awaitable[T]) -> tuple[T, bool]:
    """Await a call that creates something on the server.  If the caller is cancelled
    (Ctrl-C) while the answer is on its way, still wait for it (at most
    :data:`ANSWER_GRACE` seconds; a second cancel stops waiting), so what the server
    created is known and can be cleaned up.  Returns the answer and whether a cancel
    came meanwhile (the caller then cleans up and re-raises it)."""
    task = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task), False
    except asyncio.CancelledError:
        if task.done():
            raise
        try:
            return await asyncio.wait_for(asyncio.shield(task), ANSWER_GRACE), True
        except Exception:  # no answer in time, or the call failed: nothing to clean up
            raise asyncio.CancelledError from None
        finally:
            if not task.done():
                task.cancel()


#: Leading bytes a target may look at before an upload is declared (magic numbers).
HEAD_BYTES = 64

T = TypeVar("T")


class Uploader:
    """One upload through one :class:`~atai_fs.engine.target.UploadTarget` (see the
    module docstring)."""

    def __init__(
        self,
        target: UploadTarget,
        *,
        slots: PartConcurrency,
        config: TransferConfig,
        callback: Callback | None = None,
        etags: EtagCheck | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``etags`` is the filesystem's ETag policy (shared by its uploads, since what
        one upload learns of the storage holds for the next)."""
        self.target = target
        self.config = config
        self._etags = etags if etags is not None else EtagCheck(config.verify_etag)
        self._resent: set[int] = set()  # parts resent because their ETag was not their MD5
        self._signature_refused: set[int] = set()  # parts whose URL's signature was refused
        self._slots = slots
        threads = config.hash_in_threads
        self._hash_in_threads = hashing_off_loop_pays() if threads is None else threads
        self._plan_slots: asyncio.Semaphore | None = None  # the server's own cap, if any
        self._progress = Progress(callback)
        self._clock = clock
        self.plan: UploadPlan | None = None
        self._urls: PartUrls | None = None
        self._tokens: dict[int, str] = {}
        self._part_crcs: dict[int, int] = {}
        self._checkpoints: Checkpoints | None = None  # resumable uploads only
        self._whole: PartSource | None = None  # staged for the one-request route
        self._result: Completion | None = None
        self._state = "new"  # new -> sending -> published | failed
        self._resume: tuple[ResumeJournal, str] | None = None  # journal, destination
        self._failure: Exception | None = None  # the first failure, as raised
        self._cleanup: asyncio.Future[AtaiFsError | None] | None = None

    # -- whole sources -----------------------------------------------------------------

    async def upload(self, source: PartSource) -> Completion:
        """Upload everything ``source`` holds by the cheapest route, and publish it."""
        await self.stage(source)
        return await self.publish()

    async def stage(self, source: PartSource) -> None:
        """Everything short of publishing: choose the route; for the parts route,
        initiate and send every part (an fsspec transaction publishes at commit)."""
        async with self._failing_cleanly():
            self.target.look_at(bytes(source.read(0, min(HEAD_BYTES, source.size))))
            stored = await self._attempt(
                lambda: self.target.already_stored(source), "looking for a stored copy"
            )
            if stored is not None:
                self._progress.start(source.size, already_there=source.size)
                self._result = stored
                return
            if self.target.fits_one_request(source.size):
                self._whole = source  # nothing to send before publishing
                return
            await self._start(source.size, source)
            await self.send_all(source)

    async def publish(self) -> Completion:
        """Make the staged upload visible: its one request, or complete."""
        async with self._failing_cleanly():
            if self._result is not None:
                return self._published(self._result)
            source = self._whole
            if source is not None:
                self._progress.start(source.size)
                result = await self._attempt(lambda: self.target.upload_whole(source), "upload")
                if result is not None:
                    self._progress.advance(source.size)
                    return self._published(result)
                # The server refused the one request for this file: take the parts route.
                self._whole = None
                await self._start(source.size, source)
                await self.send_all(source)
            return await self._complete()

    # -- streaming writes of known size ---------------------------------------------------

    def streams(self, size: int) -> bool:
        """Whether a write of ``size`` bytes sends parts while writing (else it is held
        and sent at close by :meth:`upload`)."""
        return not self.target.fits_one_request(size)

    async def begin(self, size: int) -> LiveParts:
        """Initiate a write of ``size`` bytes and return the part buffers to write into;
        full parts go to :meth:`send_part`, and :meth:`finish` publishes."""
        async with self._failing_cleanly():
            plan = await self._initiate(size)
            config = self.config
            # The write holds up to max_concurrency + 1 parts (the cap, whatever the
            # limit of the moment); they share one spool_threshold of memory, whatever
            # the part size or the concurrency.
            live = LiveParts(
                plan.parts,
                size=size,
                memory_per_part=config.spool_threshold // (config.max_concurrency + 1),
                spool_dir=config.spool_dir,
            )
            await self._adopt(plan, size, live)
            return live

    def parts_to_hold(self) -> int:
        """How many full parts a streaming write should have sent or queued at once:
        twice the current limit (so the controller sees demand beyond it and may grow),
        never more than the cap (their memory is bounded by the spools either way)."""
        return max(1, min(self.config.max_concurrency, 2 * self._slots.limit))

    async def send_part(self, part: PartSpec, source: PartSource) -> None:
        """PUT one part (retrying transient failures) and record its token."""
        async with self._failing_cleanly():
            if self._failure is not None:
                raise self._failure
            if self._state != "sending":
                raise UploadFailed(
                    f"{self.target.description}: the upload already ended; part "
                    f"{part.number} was not sent"
                )
            await self._send_part(part, source)

    async def send_all(self, source: PartSource) -> None:
        """Send every planned part from ``source``, as many at a time as the part slots
        allow; the first failure stops the others and is the one raised."""
        plan = self._require_plan()
        parts = plan.parts
        pending = iter(parts)
        width = min(self.config.max_concurrency, plan.max_concurrency or len(parts), len(parts))

        async def worker() -> None:
            for part in pending:
                await self._send_part(part, source)

        async with self._failing_cleanly():
            workers = [asyncio.ensure_future(worker()) for _ in range(width)]
            try:
                await asyncio.gather(*workers)
            except BaseException:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise

    async def _send_part(self, part: PartSpec, source: PartSource) -> None:
        async with self._plan_slots or contextlib.nullcontext(), self._slots.slot() as ticket:

            async def put_once() -> str:
                try:
                    return await self._put_once(part.number, source)
                except Exception as exc:
                    self._slots.part_failed(ticket, exc)
                    raise

            token = await self._attempt(put_once, f"part {part.number}")
            self._slots.part_sent(ticket, part.length)
        self._tokens[part.number] = token
        self._progress.part_sent(part.number, part.length)
        if self._checkpoints is not None:
            await self._checkpoints.add(part.number, token)

    async def finish(self) -> Completion:
        """Publish a streamed write once every planned part was sent."""
        return await self.publish()

    async def discard(self) -> None:
        """Abandon the upload because the caller failed (an exception in a ``with``
        block, a write of the wrong size, a file collected unclosed).  Runs the
        registered cleanup if it has not run; never raises."""
        try:
            await self._fail(None)
        except Exception as exc:  # the caller's own failure matters more
            log.warning("cleaning up %s failed: %s", self.target.description, exc)

    # -- resumable uploads of local files ---------------------------------------------------

    async def upload_resumable(
        self,
        source: PartSource,
        journal: ResumeJournal,
        destination: str,
        identity: LocalFileIdentity | None = None,
    ) -> Completion:
        """Upload a local file so that a failure leaves the upload resumable.

        Finished parts are checkpointed in batches; a failure leaves the upload in
        progress and says so, naming it; running the same upload again continues it
        when the local record shows it was started from the same, unchanged, file.
        ``identity`` tells that file (default: the :class:`FileSource`'s path); content
        built from local files (a directory archive) passes its own.
        """
        if identity is None:
            if not isinstance(source, FileSource):
                raise TypeError("a resumable upload of a built source needs its identity")
            identity = LocalFileIdentity.of(source.path)
        request = ResumeRequest(
            size=source.size,
            record=journal.read(destination),
            identity=identity,
            source=source,
            retry=self.config.retry,
        )
        resumption, cancelled = await answer_even_if_cancelled(self.target.resume(request))
        if resumption.result is not None:  # an earlier run published it
            journal.forget(destination)
            if cancelled:
                raise asyncio.CancelledError
            return resumption.result
        plan = resumption.plan
        if plan is None:  # pragma: no cover - a target bug
            raise RuntimeError(f"{self.target.description}: resume gave neither plan nor result")
        self._resume = (journal, destination)
        self._record(plan, identity)
        async with self._failing_cleanly():
            if cancelled:  # interrupted as the upload was created: resumable, and said so
                self.plan = plan
                raise asyncio.CancelledError
            await self._adopt(plan, source.size, source)
            self._record(plan, identity)  # with what prepare learned (e.g. a digest)
            await self.send_all(source)
        result = await self.publish()
        journal.forget(destination)
        return result

    def _record(self, plan: UploadPlan, identity: LocalFileIdentity) -> None:
        journal, destination = self._require_resume()
        details = self.target.resume_details()
        journal.write(ResumeRecord(destination, plan.upload_id, identity, details))

    def _require_resume(self) -> tuple[ResumeJournal, str]:
        if self._resume is None:  # pragma: no cover - programming error
            raise RuntimeError("not a resumable upload")
        return self._resume

    # -- cleanup: registered once, run once -------------------------------------------------

    @contextlib.asynccontextmanager
    async def _failing_cleanly(self) -> AsyncIterator[None]:
        """Run the upload's cleanup on any failure inside, then let the failure go on
        (replaced by a clearer error where the cleanup has one to say)."""
        try:
            yield
        except Exception as exc:
            if self._failure is not None:
                if exc is self._failure:
                    raise  # already cleaned up for, on its way out
                # A consequence of the first failure (a part refused after the abort it
                # caused): the first failure is the one worth reporting.
                raise self._failure from None
            self._failure = exc  # before the cleanup: parts failing meanwhile report it
            replacement = await self._fail(exc)
            if replacement is not None:
                self._failure = replacement
                raise replacement from exc
            raise
        except BaseException as exc:
            await self._fail(exc)
            raise

    async def _fail(self, exc: BaseException | None) -> AtaiFsError | None:
        """The one cleanup of this upload: abort it, or keep it resumable.  The first
        failure starts it; every caller waits until it is done (a caller discarding the
        upload must not return while the abort is still on its way).  Returns the error
        to raise instead of ``exc``, if any."""
        self._progress.end()
        if self._state == "published":
            return None
        if self._cleanup is None:
            self._state = "failed"
            self._cleanup = asyncio.ensure_future(self._clean_up(exc))
        return await asyncio.shield(self._cleanup)

    async def _clean_up(self, exc: BaseException | None) -> AtaiFsError | None:
        plan = self.plan
        if plan is None:
            return None  # nothing was created on the server
        if self._resume is not None:
            if exc is not None and self.target.upload_ended_by(exc):
                # The server ended the upload itself: nothing to resume, nothing to abort.
                journal, destination = self._resume
                journal.forget(destination)
                return None
            if self._checkpoints is not None:
                await self._checkpoints.save_all(self.target.description)
            if isinstance(exc, Exception):
                return self._left_resumable(plan, exc)
            # Cancelled (Ctrl-C, a task torn down): it stays resumable, and says so.
            note = (
                f"{self.target.description}: interrupted; the upload {plan.upload_id} was left "
                f"in progress with {len(self._tokens)} of {len(plan.parts)} parts sent; "
                f"{rerun(self.target.resume_command)} to resume it"
            )
            collected = LEFT_RESUMABLE.get()
            if collected is None:
                log.warning("%s", note)
            else:  # the collector says it, once, where it suits its reader
                collected.append(note)
            return None
        await self._abort(plan)
        return None

    async def _abort(self, plan: UploadPlan) -> None:
        try:
            await self._attempt(lambda: self.target.abort(plan), "abort")
        except Exception as exc:  # the original failure matters more than this one
            log.warning(
                "could not abort upload %s of %s: %s", plan.upload_id, self.target.description, exc
            )

    def _left_resumable(self, plan: UploadPlan, exc: Exception) -> UploadFailed:
        status = exc.status if isinstance(exc, AtaiFsError) else None
        code = exc.code if isinstance(exc, AtaiFsError) else None
        return UploadFailed(
            f"uploading {self.target.description} failed: {exc}. The upload {plan.upload_id} "
            f"was left in progress with {len(self._tokens)} of {len(plan.parts)} parts sent; "
            f"{rerun(self.target.resume_command)} to resume it",
            status=status,
            code=code,
            upload_id=plan.upload_id,
        )

    def _published(self, result: Completion) -> Completion:
        self._progress.end()
        self._state = "published"
        self._result = result
        return result

    # -- the parts route ------------------------------------------------------------------

    async def _start(self, size: int, source: PartSource) -> UploadPlan:
        plan = await self._initiate(size)
        await self._adopt(plan, size, source)
        return plan

    async def _initiate(self, size: int) -> UploadPlan:
        plan, cancelled = await answer_even_if_cancelled(
            self._attempt(lambda: self.target.initiate(size), "initiate")
        )
        if cancelled:
            self.plan = plan  # the server holds it: the cleanup this raise runs aborts it
            raise asyncio.CancelledError
        return plan

    async def _adopt(self, plan: UploadPlan, size: int, source: PartSource | LiveParts) -> None:
        """Take over a plan: from now on the server holds an upload, so a failure runs
        the cleanup.  The plan is checked against the size before any byte is sent."""
        self.plan = plan
        self._state = "sending"
        if plan.max_concurrency:
            self._plan_slots = asyncio.Semaphore(plan.max_concurrency)
        self._urls = PartUrls(
            plan.parts, self._refresh_urls, margin=self.config.url_refresh_margin, clock=self._clock
        )
        if self._resume is not None:
            self._checkpoints = Checkpoints(
                self._checkpoint,
                num_parts=plan.num_parts,
                every=self.config.checkpoint_parts,
                seconds=self.config.checkpoint_seconds,
            )
        plan.check_against(size)
        await self.target.prepare(plan, source)
        self._progress.start(plan.total_bytes, already_there=plan.bytes_already_uploaded)

    async def _complete(self) -> Completion:
        plan = self._require_plan()
        missing = [part.number for part in plan.parts if part.number not in self._tokens]
        if missing:
            raise UploadFailed(
                f"cannot complete {self.target.description}: parts {missing[:10]} were not sent",
                upload_id=plan.upload_id,
            )
        if self._checkpoints is not None:
            tokens = await self._checkpoints.settled()
        else:
            tokens = dict(self._tokens)
        crc32c = self._whole_crc32c(plan)
        attempts = 0

        async def complete_once() -> Completion:
            nonlocal attempts
            attempts += 1
            try:
                return await self.target.complete(plan, tokens, crc32c=crc32c)
            except (Conflict, ProtocolError) as exc:
                # The complete landed but its answer was lost (a retry then sees 409) or
                # garbled: the file is published if the server says so.
                landed_before = isinstance(exc, Conflict) and attempts > 1
                if landed_before or isinstance(exc, ProtocolError):
                    published = await self.target.is_published(plan)
                    if published is not None:
                        return published
                raise

        return self._published(await self._attempt(complete_once, "complete"))

    def _require_plan(self) -> UploadPlan:
        if self.plan is None:
            raise RuntimeError("the upload was not started")
        return self.plan

    async def _attempt(self, operation: Callable[[], Awaitable[T]], what: str) -> T:
        """``operation`` under the one retry policy."""
        return await self.config.retry.run(operation, what=f"{what} of {self.target.description}")

    async def _put_once(self, number: int, source: PartSource) -> str:
        urls = self._require_urls()
        part = await urls.usable(number, sent=self._tokens)
        md5 = hashlib.md5(usedforsecurity=False) if self._etags.active else None
        wants_crc = self._require_plan().integrity_algorithm == "crc32c"
        crc = 0

        def observe(chunk: Buffer) -> None:
            nonlocal crc
            if md5 is not None:
                md5.update(chunk)
            if wants_crc:
                crc = crc32c_update(crc, chunk)

        body = PartBody(
            source,
            part.offset,
            part.length,
            chunk_size=chunk_size_for(self._slots.limit, self.config.chunk_size),
            on_chunk=observe if (md5 is not None or wants_crc) else None,
            on_sent=lambda done: self._progress.reached(number, done),
            observe_in_thread=self._hash_in_threads,
        )
        try:
            token = await self.target.put_part(part, body)
        except UrlExpired as exc:
            if exc.code == "SignatureDoesNotMatch":
                if number in self._signature_refused:
                    raise AuthError(
                        f"part {number} of {self.target.description}: the storage refused the "
                        "signature of a freshly issued URL too (SignatureDoesNotMatch): a "
                        "header the URL was not signed for, a skewed clock or a proxy "
                        "rewriting the request; the upload was stopped",
                        status=exc.status,
                        code=exc.code,
                    ) from None
                self._signature_refused.add(number)
            await urls.refresh([number])
            raise
        stated = md5_of_etag(token) if md5 is not None else None
        if md5 is not None and stated is not None:
            sent = md5.hexdigest()
            where = f"part {number} of {self.target.description}"
            verdict = self._etags.judge(
                matches=stated == sent, resent_before=number in self._resent, where=where
            )
            if verdict == "resend":
                self._resent.add(number)
                raise PartCorrupted(
                    f"{where}: the storage's ETag {token} is not the MD5 of the "
                    f"{part.length} bytes sent ({sent}); sending it again"
                )
        if wants_crc:
            self._part_crcs[number] = crc
        return token

    async def _refresh_urls(self, numbers: list[int]) -> list[PartSpec]:
        plan = self._require_plan()
        return await self._attempt(lambda: self.target.refresh_urls(plan, numbers), "refresh")

    async def _checkpoint(self, tokens: Mapping[int, str]) -> None:
        plan = self._require_plan()
        await self._attempt(lambda: self.target.checkpoint(plan, tokens), "checkpoint")

    def _require_urls(self) -> PartUrls:
        if self._urls is None:
            raise RuntimeError("the upload was not started")
        return self._urls

    def _whole_crc32c(self, plan: UploadPlan) -> int | None:
        if plan.integrity_algorithm != "crc32c":
            return None
        if plan.is_resume:
            return None  # parts sent by an earlier run were not seen: nothing to combine
        ordered = sorted(plan.parts, key=lambda part: part.offset)
        return crc32c_of_parts((self._part_crcs[p.number], p.length) for p in ordered)
