"""Every exception atai_fs raises, mapped onto the builtins Python users catch.

Each class subclasses both :class:`AtaiFsError` and the builtin exception a user of
``open()`` or ``os`` would expect, so code written against local files keeps working and
code that wants to tell our errors apart catches :class:`AtaiFsError`::

    AtaiFsError
    ├── ConfigurationError (ValueError)        a bad or missing option; raised before any request
    ├── InvalidRequest (ValueError)            the request cannot succeed as asked (400, bad name)
    │   ├── FileTooLarge                       over the target's limit (before upload, or 413)
    │   │   └── SizeLimitExceeded              a sandbox's max_upload_bytes
    │   ├── UnsupportedFormat                  Aionvision does not take the file's format
    │   ├── FlowRunNotWaiting                  the flow run takes no more uploads
    │   ├── PartRejected                       sandbox: part out of range or of the wrong size
    │   └── ArchiveRejected                    sandbox: an archive entry it refuses to extract
    ├── AuthError (PermissionError)            401/403: the key is missing, invalid or not allowed
    │   ├── UrlExpired                         a presigned URL expired; a fresh one is requested
    │   ├── PresignedUrlRefused                a caller's presigned URL was refused (not renewable)
    │   └── WaitingUrlExpired                  a flow edge's URL passed its TTL (not renewable)
    ├── NotFound (FileNotFoundError)           404
    ├── ProcessingTimeout (TimeoutError)       Aionvision: still processing when the wait ended
    ├── Conflict (FileExistsError)             409
    │   ├── AlreadyCompleted                   sandbox: the session was completed already
    │   └── TargetConflict                     sandbox: the destination exists (conflict="error")
    └── RequestFailed (OSError)                anything else; ``status``, ``code``, ``upload_id``
        ├── TransportError                     no usable answer (connection, timeout, reset)
        │   ├── ConnectError                   the request was never sent: safe to send again
        │   └── ResponseLost                   the request may have landed: its answer was lost
        ├── RateLimited                        429 after our retries
        ├── ProtocolError                      an answer the protocol does not allow
        ├── QuotaExceeded                      Aionvision: the workspace quota cannot take the files
        ├── ProcessingFailed                   Aionvision: a file's processing failed or is stuck
        └── UploadFailed                       an upload could not be finished
            ├── PartCorrupted                  a part's ETag is not the MD5 of the bytes sent
            └── SandboxUploadError             a sandbox failure with a documented ``reason``
                ├── ChecksumMismatch, InsufficientStagingSpace, MissingParts
                └── SessionGone                the session cannot be used any more
                    └── UploadExpired, UploadAborted

Attributes are constructor arguments, never patched afterwards.  Messages say what
happened and what to do; they are built from already-redacted text
(see :mod:`atai_fs.redact`).
"""

from __future__ import annotations

import copy
from typing import TypeVar

E = TypeVar("E", bound="AtaiFsError")

__all__ = [
    "AlreadyCompleted",
    "ArchiveRejected",
    "AtaiFsError",
    "AuthError",
    "ChecksumMismatch",
    "ConfigurationError",
    "Conflict",
    "ConnectError",
    "FileTooLarge",
    "FlowRunNotWaiting",
    "InsufficientStagingSpace",
    "InvalidRequest",
    "MissingParts",
    "NotFound",
    "PartCorrupted",
    "PartRejected",
    "PresignedUrlRefused",
    "ProcessingFailed",
    "ProcessingTimeout",
    "ProtocolError",
    "QuotaExceeded",
    "RateLimited",
    "RequestFailed",
    "ResponseLost",
    "SandboxUploadError",
    "SessionGone",
    "SizeLimitExceeded",
    "TargetConflict",
    "TransportError",
    "UnsupportedFormat",
    "UploadAborted",
    "UploadExpired",
    "UploadFailed",
    "UrlExpired",
    "WaitingUrlExpired",
]


class AtaiFsError(Exception):
    """Base class of every error raised by atai_fs.

    ``status`` is the HTTP status that caused it (``None`` when no response was
    involved), ``code`` the API's machine-readable error code when it sent one,
    ``retryable`` whether another attempt may succeed (each class has a default),
    ``upload_id`` the upload concerned, ``retry_after`` the seconds the server asked us
    to wait (``Retry-After``), ``reason`` a documented failure reason of the API
    (sandboxes name one for every failure).
    """

    #: Whether another attempt of the same operation may succeed (class default).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        upload_id: str | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        # A single argument keeps OSError subclasses from reading it as (errno, strerror).
        super().__init__(message)
        self.message: str = message
        self.status: int | None = status
        self.code: str | None = code
        if retryable is not None:
            self.retryable = retryable
        self.upload_id: str | None = upload_id
        self.retry_after: float | None = retry_after
        self.reason: str | None = reason

    def __str__(self) -> str:
        return self.message

    def after_retries(self: E, tries: int, seconds: float, why: str | None = None) -> E:
        """A copy of this error saying that it is final, after ``tries`` tries over
        ``seconds`` (raise it from the original, which stays as it was)."""
        final = self.annotated(f"({why or f'gave up after {tries} tries over {seconds:.1f} s'})")
        final.retryable = False
        return final

    def annotated(self: E, note: str) -> E:
        """A copy of this error with ``note`` added to its message (what the caller
        learned around it); the original stays as it was."""
        copied = copy.copy(self)
        copied.message = f"{self.message} {note}"
        copied.args = (copied.message,)
        return copied


class ConfigurationError(AtaiFsError, ValueError):
    """A bad or missing option (no API key, an unknown option, a value of the wrong kind)."""


class InvalidRequest(AtaiFsError, ValueError):
    """The request cannot succeed as asked: a bad name, a bad size, a 400 from the server."""


class FileTooLarge(InvalidRequest):
    """The file is larger than the target accepts (checked before upload, or a 413)."""


class UnsupportedFormat(InvalidRequest):
    """The file's format is not one the API accepts; refused before any upload."""


class FlowRunNotWaiting(InvalidRequest):
    """The flow run is not ``WAITING``, so it takes no upload; ``run_status`` says where it is."""

    def __init__(self, message: str, *, run_status: str) -> None:
        super().__init__(message)
        self.run_status: str = run_status


class AuthError(AtaiFsError, PermissionError):
    """The API key is missing, invalid, or lacks permission (401/403)."""


class UrlExpired(AuthError):
    """A presigned URL was refused as expired; a fresh one must be requested."""

    retryable = True


class PresignedUrlRefused(AuthError):
    """The storage refused a caller's presigned URL as expired or not authorised (403).

    Not retried: only whoever issued the URL can issue a fresh one.
    """


class WaitingUrlExpired(AuthError):
    """A flow edge's ``PutURL`` passed its ``TTL`` (or storage refused it as expired).

    Not retried: the engine never re-issues a URL; only a new run can be fed.
    """


class NotFound(AtaiFsError, FileNotFoundError):
    """The file, upload or resource does not exist (404)."""


class Conflict(AtaiFsError, FileExistsError):
    """The request conflicts with the current state on the server (409)."""


class RequestFailed(AtaiFsError, OSError):
    """An HTTP request failed for a reason none of the more specific classes covers."""


class TransportError(RequestFailed):
    """No usable answer came back: the connection failed, timed out or was reset.

    Retryable.  The two subclasses tell whether the request can have reached the
    server, which decides whether a non-idempotent call may simply be sent again.
    """

    retryable = True
    #: Whether the server may have received (and acted on) the request.
    may_have_landed: bool = True


class ConnectError(TransportError):
    """The connection could not be set up: the request was never sent."""

    may_have_landed = False


class ResponseLost(TransportError):
    """The request was (at least partly) sent but its answer was lost: it may have landed."""


class RateLimited(RequestFailed):
    """The server kept answering 429 Too Many Requests after our retries."""

    retryable = True


class ProtocolError(RequestFailed):
    """The server answered something the protocol does not allow (bad JSON, missing fields)."""


class QuotaExceeded(RequestFailed):
    """The workspace's upload quota cannot take the files; refused before uploading."""


class ProcessingFailed(RequestFailed):
    """Aionvision stored the file, but its processing failed or is stuck
    (``upload_id`` is the file's ``image_id``)."""


class ProcessingTimeout(AtaiFsError, TimeoutError):
    """Aionvision was still processing the file when the wait's timeout ran out."""


class UploadFailed(RequestFailed):
    """An upload could not be finished; it was aborted unless ``upload_id`` says otherwise."""


class PartCorrupted(UploadFailed):
    """The storage's ETag for a part is not the MD5 of the bytes sent: resend it."""

    retryable = True


class SandboxUploadError(UploadFailed):
    """A sandbox upload failed for a documented ``reason`` of the API (``self.reason``)."""


class ChecksumMismatch(SandboxUploadError):
    """A part's or the whole content's SHA-256 did not match what the server received."""


class PartRejected(SandboxUploadError, InvalidRequest):
    """The server refused a part as out of range or of the wrong size."""


class ArchiveRejected(SandboxUploadError, InvalidRequest):
    """A directory archive holds an entry the sandbox refuses to extract."""


class InsufficientStagingSpace(SandboxUploadError):
    """The sandbox's staging quota cannot hold this upload now."""


class MissingParts(SandboxUploadError):
    """``complete`` was called before every part was accepted."""


class SessionGone(SandboxUploadError):
    """The session can no longer be used (expired, aborted or failed)."""


class UploadExpired(SessionGone):
    """The session passed its ``expires_at``."""


class UploadAborted(SessionGone):
    """The session was aborted (``DELETE``)."""


class AlreadyCompleted(SandboxUploadError, Conflict):
    """The session was already completed (by an earlier request with another key)."""


class TargetConflict(SandboxUploadError, Conflict):
    """The destination exists and the session's ``conflict`` policy is ``error``."""


class SizeLimitExceeded(SandboxUploadError, FileTooLarge):
    """The upload is larger than the sandbox's ``max_upload_bytes``."""


#: Statuses worth another attempt: the request may succeed once the server recovers.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def error_for_status(
    status: int,
    message: str,
    *,
    code: str | None = None,
    upload_id: str | None = None,
    retry_after: float | None = None,
    retryable: bool | None = None,
) -> AtaiFsError:
    """Build the exception a Python user expects for an HTTP error status.

    ``message`` must already be redacted and should say what to do next; ``retryable``
    overrides the status's default (e.g. a 500 that will fail the same way every time).
    """
    cls: type[AtaiFsError]
    if status in (401, 403):
        cls = AuthError
    elif status == 404:
        cls = NotFound
    elif status == 409:
        cls = Conflict
    elif status == 413:
        cls = FileTooLarge
    elif status == 429:
        cls = RateLimited
    elif status in (400, 411, 416, 422):
        cls = InvalidRequest
    else:
        cls = RequestFailed
    return cls(
        message,
        status=status,
        code=code,
        retryable=status in RETRYABLE_STATUSES if retryable is None else retryable,
        upload_id=upload_id,
        retry_after=retry_after,
    )
