"""What the sandbox API's error answers mean: its ``ErrorResponse`` body, and one
exception class per documented failure ``reason`` (the classes live in
:mod:`atai_fs.errors`; this module only maps reasons onto them).

Every class is also the builtin a Python user expects (``FileExistsError`` for a target
conflict, ``ValueError`` for a size limit, ``OSError`` for the rest).
"""

from __future__ import annotations

from collections.abc import Mapping

from ...advice import pass_options
from ...errors import (
    AlreadyCompleted,
    ArchiveRejected,
    ChecksumMismatch,
    InsufficientStagingSpace,
    MissingParts,
    PartRejected,
    ProtocolError,
    SandboxUploadError,
    SizeLimitExceeded,
    TargetConflict,
    UploadAborted,
    UploadExpired,
)
from ...http import HttpResponse
from .._api import ErrorAnswer, ErrorBody, body_text

__all__ = [
    "REASONS",
    "SESSION_ENDING_REASONS",
    "STATUS_HINTS",
    "parse_error_body",
    "reason_error",
]

#: reason -> (exception class, what to do)
REASONS: Mapping[str, tuple[type[SandboxUploadError], str]] = {
    "invalid_part_checksum": (
        ChecksumMismatch,
        "the part's bytes changed between hashing and sending; make sure the local file "
        "is not modified during the upload",
    ),
    "whole_checksum_mismatch": (
        ChecksumMismatch,
        "the content the server assembled differs from the local content; the local data "
        "probably changed during the upload, upload it again",
    ),
    "part_out_of_range": (PartRejected, "the session has fewer parts; this is a client bug"),
    "part_size_mismatch": (
        PartRejected,
        "the local data changed size during the upload; upload it again",
    ),
    "directory_extract_invalid_path": (
        ArchiveRejected,
        "an archive entry is absolute, escapes the target with '..', or names a reserved path",
    ),
    "directory_extract_invalid_symlink": (
        ArchiveRejected,
        "a symlink points outside the uploaded tree; replace it with a relative link inside it",
    ),
    "directory_extract_unsupported_entry": (
        ArchiveRejected,
        "only regular files, directories and symlinks can be uploaded",
    ),
    "insufficient_staging_space": (
        InsufficientStagingSpace,
        "other uploads hold the sandbox's staging space; wait for them or abort them",
    ),
    "missing_parts": (MissingParts, "some parts were never accepted; resume the upload"),
    "size_limit_exceeded": (
        SizeLimitExceeded,
        "the upload is over the sandbox's max_upload_bytes; split it into smaller files",
    ),
    "target_conflict": (
        TargetConflict,
        f"the destination exists; {pass_options(('conflict', 'replace'), ('conflict', 'merge'))} "
        "to write over it",
    ),
    "upload_aborted": (UploadAborted, "the session was aborted; start a new upload"),
    "upload_already_completed": (
        AlreadyCompleted,
        "the session was already completed; nothing more to send",
    ),
    "upload_expired": (UploadExpired, "the session expired; start a new upload"),
}

STATUS_HINTS: Mapping[int, str] = {
    401: f"check the API key ({pass_options(('api_key', ...))} or set the SANDBOX_API_KEY "
    "environment variable)",
    403: "the API key is valid but lacks permission for this sandbox",
    404: "check the sandbox id; the sandbox or the upload session may not exist any more",
    429: "the API rate limit was exceeded; lower max_concurrency or retry later",
}

#: Reasons after which the session is over (failed, aborted, expired or completed):
#: it cannot be resumed, only started afresh.
SESSION_ENDING_REASONS = frozenset(
    {
        "whole_checksum_mismatch",
        "target_conflict",
        "directory_extract_invalid_path",
        "directory_extract_invalid_symlink",
        "directory_extract_unsupported_entry",
        "upload_aborted",
        "upload_expired",
        "upload_already_completed",
    }
)

#: Reasons worth another attempt even though their status is a 4xx.
_RETRYABLE_REASONS = frozenset({"invalid_part_checksum"})


def parse_error_body(response: HttpResponse) -> ErrorBody:
    """An ``ErrorResponse`` (``error``, ``code``, ``error_detail`` with its ``reason``),
    the object form the SDK also accepts, a foreign ``errors`` envelope, or any body."""
    try:
        data = response.json()
    except ProtocolError:
        return ErrorBody(message=body_text(response))
    if not isinstance(data, Mapping):
        return ErrorBody(message=str(data)[:300])
    error = data.get("error")
    code = data.get("code")
    detail = data.get("error_detail")
    if isinstance(error, Mapping):  # the SDK also accepts an object here
        code = code or error.get("code")
        detail = detail or error.get("error_detail")
        error = error.get("message")
    if not isinstance(detail, Mapping):
        detail = {}
    message = str(detail.get("message") or error or "")
    if not message and isinstance(data.get("errors"), list):  # a proxy's or foreign envelope
        message = "; ".join(str(e.get("message", e)) for e in data["errors"] if e)
    message = message[:500]
    if isinstance(detail.get("part_number"), int):
        message = f"{message} (part {detail['part_number']})"
    reason = detail.get("reason")
    return ErrorBody(
        code=str(code) if code else None,
        message=message,
        reason=str(reason) if reason else None,
        details=dict(detail),
    )


def reason_error(answer: ErrorAnswer) -> SandboxUploadError | None:
    """The exception of a documented ``reason`` (``None`` when the answer has none)."""
    body = answer.body
    known = REASONS.get(body.reason or "")
    if known is None:
        return None
    cls, _ = known
    return cls(
        answer.message,
        reason=body.reason,
        status=answer.status,
        code=body.code,
        retryable=body.reason in _RETRYABLE_REASONS or answer.status in (429, 503),
        upload_id=answer.upload_id,
        retry_after=answer.retry_after,
    )


def reason_hint(body: ErrorBody) -> str | None:
    """What to do about a documented ``reason``."""
    known = REASONS.get(body.reason or "")
    return known[1] if known is not None else None
