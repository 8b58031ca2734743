"""What the fuzz needs to know of each emulated API: how to start it, live resources to
aim at (:class:`~.corpus.Seed`), a valid request per route (:class:`~.corpus.Template`),
the spec's error body (a 4xx that is not in it is a failure) and the 5xx a spec itself
prescribes for a well-formed request.

Routes come from the running emulator's router, never from here: a route without a
template is still fuzzed, with generic bodies.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from atai_fs.emulator import ATAIEmulator
from atai_fs.emulator._shared.server import BackgroundServer
from atai_fs.emulator.aionvision import AionVisionEmulator
from atai_fs.emulator.flow import FlowEmulator
from atai_fs.emulator.sandbox import SandboxEmulator

from .corpus import Multipart, Seed, Template, multipart_body
from .wire import Answer, Probe, Wire

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
"""Ten-odd bytes a PNG-only endpoint takes (the emulators check the extension only)."""


class Served(Protocol):
    """A running emulator as the fuzz sees it, in this process or another."""

    @property
    def api_key(self) -> str: ...

    def routes(self) -> list[web.AbstractRoute]: ...


@dataclass(frozen=True)
class FuzzedApi:
    name: str
    start: Callable[[Path], BackgroundServer[Any, Any]]
    api_prefix: str
    base_headers: Callable[[Served], dict[str, str]]
    seed: Callable[[Wire, Served], Seed]
    """Create live resources through the API (asserting success): also the healthy
    request that must still work after the corpus."""
    templates: Callable[[Seed], dict[str, Template]]
    """Route name -> a valid request to it."""
    api_error_problem: Callable[[Answer], str | None]
    """Why an error answer of an API route is not the spec's error body (None: it is)."""
    prescribed_5xx: Callable[[str, Answer], bool] = field(default=lambda route, answer: False)
    """A 5xx the spec itself prescribes for this route (not a bug of the emulator)."""

    def error_problem(self, probe: Probe, answer: Answer) -> str | None:
        """Why ``answer`` (a 4xx or 5xx) to ``probe`` is not the spec's error body."""
        if probe.method == "HEAD":
            return None  # no body to judge
        if urlsplit(probe.target).path.startswith(self.api_prefix + "/"):
            return self.api_error_problem(answer)
        return s3_problem(answer)


# -- error shapes -------------------------------------------------------------------------
def s3_problem(answer: Answer) -> str | None:
    """Storage answers S3's ``<Error><Code>...`` XML."""
    text = answer.body.decode("utf-8", "replace")
    if answer.content_type != "application/xml" or not re.search(
        r"<Error><Code>[A-Za-z0-9]+</Code><Message>", text
    ):
        return f"not an S3 XML error: {answer.content_type} {text[:200]!r}"
    return None


def _json(answer: Answer) -> Any:
    if answer.content_type != "application/json":
        return None
    try:
        return answer.json()
    except ValueError:
        return None


def atai_envelope_problem(answer: Answer) -> str | None:
    """Spec 2.1: ``{"errors": [{"code", "message", "error_uid": "err-..."}, ...]}``."""
    body = _json(answer)
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors or not all(
        isinstance(e, dict)
        and isinstance(e.get("code"), str)
        and isinstance(e.get("message"), str)
        and str(e.get("error_uid", "")).startswith("err-")
        for e in errors
    ):
        return f"not the errors envelope: {answer.body[:200]!r}"
    return None


def flow_text_problem(answer: Answer) -> str | None:
    """Spec 1: Go's ``http.Error``, text and a newline; the mux's 405 has no body."""
    if answer.status == 405 and not answer.body:
        return None
    if answer.content_type != "text/plain" or not answer.body.endswith(b"\n"):
        return f"not Go's http.Error text: {answer.content_type} {answer.body[:200]!r}"
    return None


def sandbox_problem(answer: Answer) -> str | None:
    """Spec 2: ``ErrorResponse`` ``{"error", "code", "request_id"}`` echoing x-request-id."""
    body = _json(answer)
    if not (
        isinstance(body, dict)
        and isinstance(body.get("error"), str)
        and isinstance(body.get("code"), str)
        and body.get("request_id") == answer.headers.get("x-request-id")
    ):
        return f"not an ErrorResponse: {answer.body[:200]!r}"
    return None


def aion_problem(answer: Answer) -> str | None:
    """Spec 2: the ``{"error": {"code", "message"}, "request_id"}`` envelope, or FastAPI's
    422 ``{"detail": [{"loc", "msg", "type"}]}``."""
    body = _json(answer)
    if not isinstance(body, dict):
        return f"not JSON: {answer.body[:200]!r}"
    if answer.status == 422 and "detail" in body:
        detail = body["detail"]
        if (
            isinstance(detail, list)
            and detail
            and all(
                isinstance(d, dict)
                and isinstance(d.get("loc"), list)
                and isinstance(d.get("msg"), str)
                for d in detail
            )
        ):
            return None
        return f"not FastAPI's detail list: {answer.body[:200]!r}"
    error = body.get("error")
    if not (
        isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and isinstance(body.get("request_id"), str)
    ):
        return f"not the error envelope: {answer.body[:200]!r}"
    return None


# -- helpers ------------------------------------------------------------------------------
def _ok(answer: Answer, what: str) -> Any:
    assert answer.status == 200, f"{what}: {answer.status} {answer.body[:300]!r}"
    return answer.json() if answer.body else None


def _storage_seed(url: str) -> tuple[str, str]:
    """The storage key and the raw signed query of a presigned URL."""
    parts = urlsplit(url)
    return parts.path.removeprefix("/storage/"), parts.query


# -- ATAI ---------------------------------------------------------------------------------
def _atai_headers(emu: Served) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.api_key}"}


def _atai_seed(wire: Wire, emu: Served) -> Seed:
    headers = _atai_headers(emu)
    data, content_type = multipart_body(Multipart("file", "seed.csv", b"a,b\n1,2\n"))
    _ok(
        wire.request(
            "POST", "/v0.5/files", body=data, headers={**headers, "Content-Type": content_type}
        ),
        "simple upload",
    )
    init = _ok(
        wire.request(
            "POST",
            "/v0.5/files/uploads/initiate",
            json_body={"filename": "seed-upload.csv", "file_type": "text/csv", "num_bytes": 10},
            headers=headers,
        ),
        "initiate",
    )
    key, query = _storage_seed(init["parts"][0]["url"])
    return Seed(
        params={"upload_id": init["upload_id"], "file_id": "seed.csv", "key": key},
        query={"storage_put": query, "storage_get": query},
    )


def _atai_templates(seed: Seed) -> dict[str, Template]:
    n = 1
    parts = [{"part_number": n, "part_token": '"0"'}]
    csv = b"a,b\n1,2\n"
    return {
        "initiate": Template(
            {
                "filename": "fuzz.csv",
                "file_type": "text/csv",
                "num_bytes": 10,
                "resume_if_started": False,
            }
        ),
        "parts_urls": Template({"part_numbers": [n]}),
        "checkpoint": Template({"parts": parts}),
        "complete": Template({"parts": parts, "integrity_checksum": "AAAAAA=="}),
        "abort": Template({}),
        "simple_upload": Template(Multipart("file", "fuzz.csv", csv)),
        "base64_upload": Template(Multipart("file", "fuzz.csv", base64.b64encode(csv))),
        "storage_put": Template(b"0123456789"),
    }


ATAI = FuzzedApi(
    name="atai",
    start=lambda tmp: ATAIEmulator(tmp, part_size=64 * 1024),
    api_prefix="/v0.5",
    base_headers=_atai_headers,
    seed=_atai_seed,
    templates=_atai_templates,
    api_error_problem=atai_envelope_problem,
)


# -- flow ---------------------------------------------------------------------------------
FLOW_REQUEST = {
    "Flow": {
        "Name": "fuzz",
        "Stores": [{"Name": "uploads", "Type": "s3", "Params": {"BucketName": "fuzz"}}],
        "DataWells": [{"Edge": "in", "Store": "uploads", "Source": "upload"}],
        "Nodes": [
            {
                "ID": "resize",
                "Uses": "pupload/ffmpeg",
                "Inputs": [{"Name": "in", "Edge": "in"}],
                "Outputs": [{"Name": "out", "Edge": "out"}],
            }
        ],
    },
    "NodeDefs": [{"Publisher": "pupload", "Name": "ffmpeg", "MaxAttempts": 3}],
}


def _flow_seed(wire: Wire, emu: Served) -> Seed:
    run = _ok(wire.request("POST", "/api/v1/flow/test", json_body=FLOW_REQUEST), "flow/test")
    key, query = _storage_seed(run["WaitingURLs"][0]["PutURL"])
    return Seed(
        params={"run_id": run["ID"], "key": key},
        query={"storage_put": query, "storage_get": query},
    )


def _flow_prescribed_5xx(route: str, answer: Answer) -> bool:
    """Spec 1: a flow that fails validation is ``500 unable to run flow: <reason>``."""
    return (
        route == "flow_test"
        and answer.status == 500
        and answer.body.startswith(b"unable to run flow: ")
        and b"the emulator failed" not in answer.body
    )


FLOW = FuzzedApi(
    name="flow",
    start=lambda tmp: FlowEmulator(tmp),
    api_prefix="/api/v1",
    base_headers=lambda emu: {},
    seed=_flow_seed,
    templates=lambda seed: {
        "flow_test": Template(FLOW_REQUEST),
        "storage_put": Template(b"0123456789"),
    },
    api_error_problem=flow_text_problem,
    prescribed_5xx=_flow_prescribed_5xx,
)


# -- sandbox ------------------------------------------------------------------------------
SANDBOX_ID = "sb_fuzz"


def _sandbox_headers(emu: Served) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.api_key}", "Idempotency-Key": str(uuid.uuid4())}


def sandbox_create_body(target: str = "/workspace/fuzz.bin") -> dict[str, Any]:
    return {
        "kind": "file",
        "source_kind": "restartable_file",
        "target_path": target,
        "content_length": 10,
        "conflict": "replace",
        "checksum_algorithm": "sha256",
        "metadata": {"a": 1},
    }


def _sandbox_seed(wire: Wire, emu: Served) -> Seed:
    created = _ok(
        wire.request(
            "POST",
            f"/v1/sandboxes/{SANDBOX_ID}/uploads",
            json_body=sandbox_create_body("/workspace/seed.bin"),
            headers=_sandbox_headers(emu),
        ),
        "create",
    )
    return Seed(
        params={
            "prefix": "sandboxes",
            "sandbox_id": SANDBOX_ID,
            "upload_id": created["session"]["upload_id"],
            "part_number": "0",
        }
    )


def _sandbox_prescribed_5xx(route: str, answer: Answer) -> bool:
    """Spec 2: ``insufficient_staging_space`` is 507 (a full staging quota)."""
    body = _json(answer) or {}
    reason = (body.get("error_detail") or {}).get("reason")
    return answer.status == 507 and reason == "insufficient_staging_space"


SANDBOX = FuzzedApi(
    name="sandbox",
    start=lambda tmp: SandboxEmulator(tmp, part_size=64 * 1024),
    api_prefix="/v1",
    base_headers=_sandbox_headers,
    seed=_sandbox_seed,
    templates=lambda seed: {
        "create": Template(sandbox_create_body()),
        "complete": Template({"whole_checksum_sha256": hashlib.sha256(b"0" * 10).hexdigest()}),
        "part": Template(b"0123456789"),
        "direct": Template(b"0123456789", query="path=/workspace/direct.bin"),
    },
    api_error_problem=sandbox_problem,
    prescribed_5xx=_sandbox_prescribed_5xx,
)


# -- Aionvision -----------------------------------------------------------------------------
AION_BATCH = {
    "files": [{"filename": "batch.png", "content_type": "image/png", "size_bytes": 10}],
    "intent": "describe",
}


def _aion_seed(wire: Wire, emu: Served) -> Seed:
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    presigned = _ok(
        wire.request(
            "POST",
            "/api/v2/uploads/request-presigned-url",
            json_body={"filename": "seed.png", "content_type": "image/png", "size_bytes": 10},
            headers=headers,
        ),
        "request-presigned-url",
    )
    data, content_type = multipart_body(Multipart("files", "seed.png", PNG))
    batch = _ok(
        wire.request(
            "POST",
            "/api/v2/user-files/upload/stream-batch",
            body=data,
            headers={**headers, "Content-Type": content_type},
        ),
        "stream-batch",
    )
    prepared = _ok(
        wire.request(
            "POST", "/api/v2/uploads/batch-prepare", json_body=AION_BATCH, headers=headers
        ),
        "batch-prepare",
    )
    key, query = _storage_seed(presigned["upload_url"])
    return Seed(
        params={
            "session_id": batch["session_id"],
            "key": key,
            "batch_id": prepared["batch_id"],
            "image_id": prepared["presigned_urls"][0]["image_id"],
            "batch_object_key": prepared["presigned_urls"][0]["object_key"],
        },
        query={"storage_put": query, "storage_get": query},
    )


def _aion_templates(seed: Seed) -> dict[str, Template]:
    return {
        "stream_upload": Template(Multipart("file", "fuzz.png", PNG, (("tags", "a,b"),))),
        "stream_batch": Template(Multipart("files", "fuzz.png", PNG)),
        "quota_check": Template(query="file_count=1"),
        "check_duplicates": Template({"hashes": [hashlib.sha256(PNG).hexdigest()]}),
        "request_presigned_url": Template(
            {
                "filename": "fuzz.png",
                "content_type": "image/png",
                "size_bytes": 10,
                "idempotency_key": "fuzz",
            }
        ),
        "confirm": Template({"object_key": seed.params["key"], "size_bytes": 10, "checksum": None}),
        "session_results": Template(query="offset=0&limit=10"),
        "batch_prepare": Template(AION_BATCH),
        "batch_confirm": Template(
            {
                "batch_id": seed.params["batch_id"],
                "confirmations": [
                    {
                        "object_key": seed.params["batch_object_key"],
                        "file_size": 10,
                        "success": True,
                    }
                ],
            }
        ),
        "storage_put": Template(b"0123456789", headers={"Content-Type": "image/png"}),
    }


AIONVISION = FuzzedApi(
    name="aionvision",
    start=lambda tmp: AionVisionEmulator(tmp),
    api_prefix="/api/v2",
    base_headers=lambda emu: {"Authorization": f"Bearer {emu.api_key}"},
    seed=_aion_seed,
    templates=_aion_templates,
    api_error_problem=aion_problem,
)

APIS = (ATAI, FLOW, SANDBOX, AIONVISION)
