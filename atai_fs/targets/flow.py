"""The flow engine (Pupload controller API v1): run status, run start, the upload target.

Spec: ``flow-presigned-put.md``.  A run in ``WAITING`` lists one ``WaitingURL`` per
``upload`` data well: a presigned ``PutURL`` taking the whole input of one edge in one
``PUT``, valid until its ``TTL``.  There is no upload session, no completion call and no
way to renew a URL: the object's existence is the completion signal, and the engine
moves the edge from ``WaitingURLs`` to ``Artifacts`` when it sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..engine.body import PartBody
from ..engine.plan import PartSpec, UploadPlan
from ..engine.target import Completion
from ..errors import (
    AtaiFsError,
    AuthError,
    Conflict,
    FlowRunNotWaiting,
    NotFound,
    ProtocolError,
    UrlExpired,
    WaitingUrlExpired,
    error_for_status,
)
from ..http import HttpResponse
from ..redact import redact_text
from ._api import ApiClient, ErrorAnswer, ErrorBody, parse_rfc3339
from .presigned import MAX_SINGLE_PUT_SIZE, PresignedPutTarget

__all__ = [
    "DEFAULT_ENDPOINT",
    "Artifact",
    "FlowApi",
    "FlowRun",
    "FlowRunNotWaiting",
    "FlowUploadTarget",
    "WaitingUrl",
    "WaitingUrlExpired",
    "parse_rfc3339",
]

DEFAULT_ENDPOINT = "http://localhost:1234/api/v1"

#: Run statuses of the engine (spec section 2).
WAITING = "WAITING"
FINISHED_STATUSES = ("COMPLETE", "ERROR")

#: What the controller says for an unknown run id (400, plain text, spec section 4.2).
_NO_SUCH_RUN = "Flow run does not exist"
_RUN_NOT_FOUND = "run_not_found"  # our code for it: the controller sends none


@dataclass(frozen=True)
class Artifact:
    """Where an edge's data lives: store name, object key in the store's bucket, edge."""

    store_name: str
    object_name: str
    edge_name: str


@dataclass(frozen=True)
class WaitingUrl:
    """An input the run still expects: its artifact, the presigned URL and its expiry."""

    artifact: Artifact
    put_url: str = field(repr=False)
    ttl: str
    expires_at: float | None

    @property
    def edge(self) -> str:
        return self.artifact.edge_name

    def seconds_left(self, now: float | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return self.expires_at - (time.time() if now is None else now)


@dataclass(frozen=True)
class FlowRun:
    """A parsed ``FlowRun``: status, waiting inputs and artifacts by edge, the raw JSON."""

    id: str
    status: str
    waiting: Mapping[str, WaitingUrl]
    artifacts: Mapping[str, Artifact]
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: Any, what: str) -> FlowRun:
        if not isinstance(data, Mapping):
            raise ProtocolError(f"{what}: the answer is not a JSON object")
        fields = _folded(data)
        run_id, status = fields.get("id"), fields.get("status")
        if not isinstance(run_id, str) or not isinstance(status, str) or not status:
            raise ProtocolError(f"{what}: the answer lacks the run's 'ID' and 'Status'")
        waiting: dict[str, WaitingUrl] = {}
        for item in _list_or_null(fields.get("waitingurls"), "WaitingURLs", what):
            entry = _waiting_url(item, what)
            waiting[entry.edge] = entry
        artifacts: dict[str, Artifact] = {}
        raw_artifacts = fields.get("artifacts") or {}
        if not isinstance(raw_artifacts, Mapping):
            raise ProtocolError(f"{what}: 'Artifacts' is not an object")
        for edge, item in raw_artifacts.items():
            artifact = _artifact(item, what)
            artifacts[str(edge)] = artifact
        return cls(run_id, status, waiting, artifacts, data)


def _folded(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keys lower-cased: Go's decoder and encoder treat field names case-insensitively."""
    return {str(key).lower(): value for key, value in data.items()}


def _list_or_null(value: Any, name: str, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProtocolError(f"{what}: {name!r} is not an array")
    return value


def _artifact(item: Any, what: str) -> Artifact:
    if not isinstance(item, Mapping):
        raise ProtocolError(f"{what}: an artifact is not an object")
    fields = _folded(item)
    store, name, edge = (fields.get(key) for key in ("storename", "objectname", "edgename"))
    if not (isinstance(store, str) and isinstance(name, str) and isinstance(edge, str)):
        raise ProtocolError(f"{what}: an artifact lacks StoreName, ObjectName or EdgeName")
    return Artifact(store, name, edge)


def _waiting_url(item: Any, what: str) -> WaitingUrl:
    if not isinstance(item, Mapping):
        raise ProtocolError(f"{what}: a WaitingURL is not an object")
    fields = _folded(item)
    url, ttl = fields.get("puturl"), fields.get("ttl")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ProtocolError(f"{what}: a WaitingURL lacks an absolute 'PutURL'")
    expires_at: float | None = None
    if isinstance(ttl, str) and ttl:
        try:
            expires_at = parse_rfc3339(ttl)
        except ValueError:
            raise ProtocolError(f"{what}: a WaitingURL's TTL {ttl!r:.60} is not RFC 3339") from None
    return WaitingUrl(_artifact(fields.get("artifact"), what), url, str(ttl or ""), expires_at)


class FlowApi(ApiClient):
    """Single-attempt calls to the controller API; callers wrap them in the retry policy.

    The API takes no credentials.  Its errors are plain text (Go's ``http.Error``); the
    docs describe ``{"error": "..."}`` and 404 instead, so both are understood.
    """

    async def status(self, run_id: str) -> FlowRun:
        """``GET /flow/status/{id}``; :class:`NotFound` for an unknown (or purged) run."""
        what = f"reading the status of flow run {run_id!r}"
        try:
            response = await self.call("GET", f"flow/status/{quote(run_id, safe='')}", what=what)
        except NotFound as exc:
            if exc.code != _RUN_NOT_FOUND:
                raise
            raise NotFound(
                f"flow run {run_id!r} does not exist (HTTP {exc.status}: {exc.message}); check "
                "the id, or the run finished and was purged by the controller",
                status=exc.status,
                code=_RUN_NOT_FOUND,
            ) from None
        return FlowRun.from_json(response.json(), what)

    async def start(
        self, flow: Mapping[str, Any], node_defs: Sequence[Mapping[str, Any]]
    ) -> FlowRun:
        """``POST /flow/test``: start a run of an inline flow definition.

        Not idempotent (every call creates a run), so never retried automatically.
        """
        what = f"starting flow {flow.get('Name', '')!r}"
        body = {"Flow": dict(flow), "NodeDefs": [dict(node) for node in node_defs]}
        response = await self.call("POST", "flow/test", what=what, json=body)
        return FlowRun.from_json(response.json(), what)

    def parse_error(self, response: HttpResponse) -> ErrorBody:
        return ErrorBody(message=_error_text(response))

    def hint(self, status: int, body: ErrorBody) -> str | None:
        if _is_refused_definition(status, body):
            return "the flow definition was refused; fix it and start again"
        return None

    def make_error(self, answer: ErrorAnswer) -> AtaiFsError:
        status, text = answer.status, answer.body.message
        if _NO_SUCH_RUN.lower() in text.lower():
            return NotFound(text or "no message", status=status, code=_RUN_NOT_FOUND)
        if status == 404:
            return NotFound(
                f"{answer.message}; the controller has no such route: check endpoint_url "
                f"({self.http.api_base}), which normally ends with /api/v1",
                status=404,
            )
        # A refused definition fails the same way every time: never retried.
        refused = _is_refused_definition(status, answer.body)
        return error_for_status(
            status,
            answer.message,
            retry_after=answer.retry_after,
            retryable=False if refused else None,
        )


def _is_refused_definition(status: int, body: ErrorBody) -> bool:
    return status == 500 and "unable to run flow" in body.message


def _error_text(response: HttpResponse) -> str:
    """The message of an error body: plain text (possibly followed by the zero-value run
    JSON, spec 4.2), or ``{"error": "..."}`` as the docs show."""
    text = response.text.strip()
    if text.startswith("{"):
        try:
            data = response.json()
        except ProtocolError:
            data = None
        if isinstance(data, Mapping) and isinstance(data.get("error"), str):
            return redact_text(data["error"].strip())
    first_line = text.split("\n", 1)[0].strip()
    return redact_text(first_line[:300])


class FlowUploadTarget(PresignedPutTarget):
    """One input edge of one waiting run (``flow://RUN_ID/EDGE``) as an upload target.

    *initiate* resolves the run (``GET /flow/status``) and plans one part: the edge's
    ``PutURL`` covering the whole object.  The PUT itself is the shared presigned one.
    """

    def __init__(
        self,
        api: FlowApi,
        run_id: str,
        edge: str,
        *,
        content_type: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(api.http, content_type=content_type, max_size=MAX_SINGLE_PUT_SIZE)
        self.api = api
        self.run_id = run_id
        self.edge = edge
        self.description = f"flow://{run_id}/{edge}"
        self._clock = clock
        self._expires_at: float | None = None
        self._ttl = ""

    async def resolve_url(self, size: int) -> tuple[str, Mapping[str, Any]]:
        run = await self.api.status(self.run_id)
        waiting = self.check_writable(run)
        self._expires_at, self._ttl = waiting.expires_at, waiting.ttl
        self._check_not_expired()
        details = {
            "run_id": self.run_id,
            "edge": self.edge,
            "store_name": waiting.artifact.store_name,
            "object_name": waiting.artifact.object_name,
            "ttl": waiting.ttl,
        }
        return waiting.put_url, details

    def check_writable(self, run: FlowRun) -> WaitingUrl:
        """The edge's waiting URL, or the error saying why this run takes no upload there."""
        waiting = run.waiting.get(self.edge)
        uploaded = run.artifacts.get(self.edge)
        if run.status != WAITING:
            note = " (this edge was already uploaded)" if uploaded else ""
            raise FlowRunNotWaiting(
                f"{self.description}: the run is {run.status}, not WAITING{note}; it takes no "
                "more uploads. Start a new run to feed this input",
                run_status=run.status,
            )
        if waiting is not None:
            return waiting
        if uploaded is not None:
            raise Conflict(
                f"{self.description} was already uploaded (object "
                f"{uploaded.object_name!r} in store {uploaded.store_name!r}); the engine "
                "takes one upload per edge: start a new run to send other data"
            )
        edges = sorted(run.waiting) or ["none"]
        raise NotFound(
            f"{self.description}: run {self.run_id} has no input edge {self.edge!r} waiting "
            f"for an upload; its waiting edges: {', '.join(edges)}"
        )

    def _check_not_expired(self) -> None:
        if self._expires_at is not None and self._clock() >= self._expires_at:
            raise WaitingUrlExpired(
                f"{self.description}: the edge's upload URL expired at {self._ttl} and the engine "
                "cannot issue another; the run will wait forever: start a new run"
            )

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        # A retry may come after the TTL: check again rather than sending doomed bytes.
        self._check_not_expired()
        return await super().put_part(part, body)

    def expired_error(self, exc: UrlExpired) -> AuthError:
        return WaitingUrlExpired(
            f"{self.description}: the storage refused the upload URL as expired or altered "
            f"(HTTP {exc.status}); the engine cannot issue another: start a new run",
            status=exc.status,
        )

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Completion:
        """Nothing to call: the engine has no completion call; the object's existence in
        the store is the signal, and the controller moves the edge to ``Artifacts`` on
        its next pass (spec section 5)."""
        return await super().complete(plan, tokens, crc32c=crc32c)

    async def abort(self, plan: UploadPlan) -> None:
        """Nothing to call: a single PUT is atomic, so a failed or abandoned one left no
        object, and the run keeps waiting for this edge (the engine has no cancel)."""

    async def is_published(self, plan: UploadPlan) -> Completion | None:
        """The plan's details once the run lists an artifact for this edge (the upload
        was detected)."""
        try:
            run = await self.api.status(self.run_id)
        except NotFound:
            return None
        if self.edge not in run.artifacts:
            return None
        return {"size": plan.total_bytes, **plan.details}
