"""One upload (a file, or a directory archive) into one sandbox path, as an upload target.

A small file (up to ``direct_limit``, 8 MiB as the vendor SDK does) whose conflict
policy lets an existing file be overwritten (``merge``, ``replace``) goes up in one
request, the direct route (spec 4.6); with ``conflict="error"`` it takes a session,
whose complete checks the destination atomically.  Otherwise the session's plan
(``part_size``, ``part_count``, ``max_concurrency``) is followed exactly.  Before the
first part the target computes the digests the API wants
(:mod:`~atai_fs.targets.sandbox.digest`): each part's SHA-256 for its header, the whole
content's for ``complete``.  Sessions resume by id: a rerun continues the recorded
session from its ``next_part`` after checking that the local content still has the
recorded length and SHA-256, and that each part the session accepted has its recorded
SHA-256.  A directory archive is rebuilt for the rerun (the same tree gives the same
bytes, :mod:`~atai_fs.targets.sandbox.tar`); a tree whose listing changed (a member's
size or modification time) starts a fresh session, with a warning saying why.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ...engine.body import DEFAULT_CHUNK_SIZE, PartBody
from ...engine.config import one_of
from ...engine.plan import PartSpec, UploadPlan
from ...engine.resume import ResumeRecord
from ...engine.sources import LiveParts, PartSource
from ...engine.target import Completion, ResumeRequest, Resumption, UploadTarget
from ...errors import ConfigurationError, NotFound, ProtocolError, SandboxUploadError, SessionGone
from .api import (
    CONFLICTS,
    DIRECT_UPLOAD_LIMIT,
    KINDS,
    SOURCE_KINDS,
    TERMINAL_STATUSES,
    SandboxApi,
    SandboxSession,
)
from .digest import ContentDigest
from .errors import SESSION_ENDING_REASONS
from .tar import TreeMember

__all__ = ["SandboxUploadTarget"]

log = logging.getLogger("atai_fs")


class SandboxUploadTarget(UploadTarget):
    """One upload into one sandbox path.

    ``whole_sha256`` is the content's digest when known up front (a directory archive is
    hashed while it is built); it is sent at create and at complete, and checked by the
    sandbox.  ``members`` is the listing a directory archive was built from (what its
    resume record keeps, to tell a changed tree).  Idempotency keys: one per logical
    operation.  The key of a create (or a
    complete) is made on its first attempt and kept until that operation succeeds, so
    the engine's retries of the same operation reuse it and the server never does the
    work twice; the next logical operation gets a fresh key.
    """

    def __init__(
        self,
        api: SandboxApi,
        sandbox_id: str,
        target_path: str,
        *,
        kind: str = "file",
        source_kind: str = "restartable_file",
        conflict: str = "error",
        user: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        whole_sha256: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        direct_limit: int = DIRECT_UPLOAD_LIMIT,
        members: Sequence[TreeMember] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ConfigurationError(f"kind must be {one_of(KINDS)}, got {kind!r}")
        if source_kind not in SOURCE_KINDS:
            raise ConfigurationError(
                f"source_kind must be {one_of(SOURCE_KINDS)}, got {source_kind!r}"
            )
        if conflict not in CONFLICTS:
            raise ConfigurationError(
                f"conflict must be {one_of(CONFLICTS)} (what to do when {target_path} exists), "
                f"got {conflict!r}"
            )
        self.api = api
        self.sandbox_id = sandbox_id
        self.target_path = target_path
        self.kind = kind
        self.source_kind = source_kind
        self.conflict = conflict
        self.user = user
        self.metadata = dict(metadata or {})
        self.chunk_size = chunk_size
        self.direct_limit = direct_limit
        self._members = [m.fingerprint() for m in members] if members is not None else None
        if kind == "directory_tar":
            self.resume_command = "put(..., recursive=True)"
        self.description = f"sandbox://{sandbox_id}{target_path}"
        self._whole_sha256 = whole_sha256
        self._digest: ContentDigest | None = None
        self._session: SandboxSession | None = None
        self._create_key: str | None = None
        self._complete_key: str | None = None

    # -- the direct route ----------------------------------------------------------------

    def fits_one_request(self, size: int) -> bool:
        """A file small enough for the direct route, which has no conflict check of its
        own: only when the policy lets an existing file be overwritten."""
        return self.kind == "file" and self.conflict != "error" and size <= self.direct_limit

    async def upload_whole(self, source: PartSource) -> Completion:
        body = PartBody(source, 0, source.size, chunk_size=self.chunk_size)
        await self.api.upload_direct(self.sandbox_id, self.target_path, body, user=self.user)
        return {
            "route": "direct",
            "target_path": self.target_path,
            "published_bytes": source.size,
            "published_file_count": 1,
        }

    # -- the session ------------------------------------------------------------------

    def create_body(self, size: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": self.kind,
            "source_kind": self.source_kind,
            "target_path": self.target_path,
            "content_length": size,
            "conflict": self.conflict,
            "checksum_algorithm": "sha256",
            "archive_format": "tar" if self.kind == "directory_tar" else None,
            "whole_checksum_sha256": self._whole_sha256,
            "metadata": self.metadata,
        }
        if self.user is not None:
            body["user"] = self.user
        return body

    def plan_for(self, session: SandboxSession, *, first: int = 0) -> UploadPlan:
        """The engine's plan for ``session``, from part ``first`` on."""
        self._session = session
        return UploadPlan(
            upload_id=session.upload_id,
            total_bytes=session.content_length,
            num_parts=session.part_count,
            parts=session.parts(first),
            is_resume=first > 0,
            details={"session": session},
            max_concurrency=session.usable_concurrency,
        )

    async def initiate(self, size: int) -> UploadPlan:
        if self._create_key is None:
            self._create_key = str(uuid.uuid4())
        what = f"creating an upload session for {self.description}"
        session = await self.api.create_session(
            self.sandbox_id, self.create_body(size), idempotency_key=self._create_key, what=what
        )
        self._create_key = None  # the next create is another logical operation
        if session.content_length != size:
            raise ProtocolError(
                f"{what}: the session expects {session.content_length} bytes, not {size}"
            )
        return self.plan_for(session)

    # -- digests ----------------------------------------------------------------------

    async def prepare(self, plan: UploadPlan, source: PartSource | LiveParts) -> None:
        """The digests the session wants before any part: from a written source in one
        pass (in a thread), or from a write's bytes as they are written."""
        part_size = self._require_session().part_size
        if self._digest is not None and self._digest.part_size == part_size:
            return  # computed while vetting a resumed session
        whole = self._whole_sha256 is None
        if isinstance(source, LiveParts):
            self._digest = ContentDigest(part_size, source.size, whole=whole)
            source.observe(self._digest.update)
            return
        self._digest = await asyncio.to_thread(
            ContentDigest.of_source, source, part_size, whole=whole, chunk_size=self.chunk_size
        )

    def _whole(self) -> str | None:
        if self._whole_sha256 is not None:
            return self._whole_sha256
        return self._digest.whole if self._digest is not None else None

    # -- parts and the end --------------------------------------------------------------

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        return [part for part in plan.parts if part.number in set(numbers)]  # no URLs to expire

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        digest = self._digest.part(part.number) if self._digest is not None else None
        if digest is None:  # a part the engine did not prepare (a direct call)
            digest = await asyncio.to_thread(
                ContentDigest.of_range, body.source, body.offset, body.length, self.chunk_size
            )
        session = self._require_session()
        self._session = await self.api.put_part(
            self.sandbox_id, session.upload_id, part, body, digest
        )
        return digest

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Completion:
        if self._complete_key is None:
            self._complete_key = str(uuid.uuid4())
        result = await self.api.complete(
            self.sandbox_id,
            plan.upload_id,
            whole_sha256=self._whole(),
            idempotency_key=self._complete_key,
        )
        self._complete_key = None
        return result

    async def is_published(self, plan: UploadPlan) -> Completion | None:
        try:
            session = await self.api.get_session(self.sandbox_id, plan.upload_id)
        except NotFound:
            return None
        if session.status != "completed":
            return None
        return {"session": dict(session.raw), "recovered": True}

    async def abort(self, plan: UploadPlan) -> None:
        await self.api.abort(self.sandbox_id, plan.upload_id)

    def _require_session(self) -> SandboxSession:
        if self._session is None:
            raise RuntimeError("the upload session was not created")
        return self._session

    # -- resume ---------------------------------------------------------------------------

    def upload_ended_by(self, error: BaseException) -> bool:
        """A failure whose reason ended the session (failed, aborted, expired, completed)."""
        return isinstance(error, SandboxUploadError) and error.reason in SESSION_ENDING_REASONS

    def resume_details(self) -> Mapping[str, Any]:
        details: dict[str, Any] = {"sha256": self._whole()}
        if self._digest is not None:
            details["parts"] = self._digest.parts()
        if self._members is not None:
            details["members"] = self._members
        return details

    async def resume(self, request: ResumeRequest) -> Resumption:
        """Continue the recorded session if it is alive and the local file is the same
        (length and SHA-256); otherwise abort a stale one and create a fresh session."""
        if request.record is not None:
            resumed = await self._resumed(request.record, request)
            if resumed is not None:
                return resumed
        what = f"creating an upload session for {self.description}"
        return Resumption(
            plan=await request.retry.run(lambda: self.initiate(request.size), what=what)
        )

    async def _resumed(self, record: ResumeRecord, request: ResumeRequest) -> Resumption | None:
        identity, source, retry = request.identity, request.source, request.retry
        upload_id = record.upload_id
        try:
            session = await retry.run(
                lambda: self.api.get_session(self.sandbox_id, upload_id),
                what=f"reading upload session {upload_id}",
            )
        except (NotFound, SessionGone):
            return None
        recorded_sha256 = record.details.get("sha256")
        same_file = (
            record.source.same_content_as(identity)
            and identity.size == session.content_length
            and isinstance(recorded_sha256, str)
        )
        if session.status == "completed":
            # An earlier run completed it but died before hearing the answer.
            if same_file and record.started_from(identity):
                return Resumption(result={"session": dict(session.raw), "resumed": True})
            return None
        if session.status in TERMINAL_STATUSES:
            return None
        changed = self._tree_changes(record)
        if changed:
            log.warning(
                "%s: the directory changed since upload %s was interrupted (%s); starting "
                "a fresh upload",
                self.description,
                upload_id,
                changed,
            )
            await self.abandon(upload_id, retry)
            return None
        digest = None
        if same_file:
            digest = await asyncio.to_thread(
                ContentDigest.of_source, source, session.part_size, chunk_size=self.chunk_size
            )
        first = session.part_count if session.next_part is None else session.next_part
        recorded_parts = record.details.get("parts")
        if (
            digest is None
            or digest.whole != recorded_sha256
            or (
                isinstance(recorded_parts, list)
                and digest.parts()[:first] != recorded_parts[:first]
            )
        ):
            # Another file, or this one changed (the parts the session accepted are not
            # this content's): never splice its parts onto the session.
            log.warning(
                "%s: the local content is not the one upload %s was started from; starting "
                "a fresh upload",
                self.description,
                upload_id,
            )
            await self.abandon(upload_id, retry)
            return None
        self._digest = digest
        return Resumption(plan=self.plan_for(session, first=first))

    def _tree_changes(self, record: ResumeRecord) -> str | None:
        """What differs between the recorded listing of a directory and this one
        (``None``: same listing, or not a directory)."""
        if self._members is None:
            return None
        recorded = record.details.get("members")
        if not isinstance(recorded, list):
            return "no listing was recorded"
        if recorded == self._members:
            return None
        before = {str(m[0]): m for m in recorded if isinstance(m, list) and m}
        now = {str(m[0]): m for m in self._members}
        notes = [f"{name} is new" for name in now if name not in before]
        notes += [f"{name} was removed" for name in before if name not in now]
        notes += [
            f"{name} changed size or modification time"
            for name in now
            if name in before and before[name] != now[name]
        ]
        more = f" and {len(notes) - 3} more" if len(notes) > 3 else ""
        return "; ".join(notes[:3]) + more
