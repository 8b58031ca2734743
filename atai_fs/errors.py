"""One error hierarchy for every target, mapped onto the builtins Python users catch.

Each class subclasses both :class:`AtaiFsError` and the builtin exception a user of
``open()`` or ``os`` would expect (``PermissionError``, ``FileNotFoundError``...), so code
written against local files keeps working, and code that wants to tell our errors apart
can catch :class:`AtaiFsError`.  Messages say what happened and what to do; they are
built from already-redacted text (see :mod:`atai_fs.redact`).
"""

from __future__ import annotations

__all__ = [
    "AtaiFsError",
    "AuthError",
    "ConfigurationError",
    "Conflict",
    "FileTooLarge",
    "InvalidRequest",
    "NotFound",
    "ProtocolError",
    "RateLimited",
    "RequestFailed",
    "UploadFailed",
    "UrlExpired",
    "error_for_status",
]


class AtaiFsError(Exception):
    """Base class of every error raised by atai_fs.

    ``status`` is the HTTP status that caused it (``None`` when no response was
    involved), ``code`` the API's machine-readable error code when it sent one.
    """

    status: int | None = None
    code: str | None = None
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
    ) -> None:
        # A single argument keeps OSError subclasses from reading it as (errno, strerror).
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.upload_id = upload_id
        #: Seconds the server asked us to wait before retrying (``Retry-After``).
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class ConfigurationError(AtaiFsError, ValueError):
    """The filesystem is not configured well enough to talk to the API (e.g. no API key)."""


class InvalidRequest(AtaiFsError, ValueError):
    """The request cannot succeed as asked: a bad name, a bad size, a 400 from the server."""


class FileTooLarge(InvalidRequest):
    """The file is larger than the target accepts (checked before upload, or a 413)."""


class AuthError(AtaiFsError, PermissionError):
    """The API key is missing, invalid, or lacks permission (401/403)."""


class UrlExpired(AuthError):
    """A presigned URL was refused as expired; a fresh one must be requested."""

    retryable = True


class NotFound(AtaiFsError, FileNotFoundError):
    """The file, upload or resource does not exist (404)."""


class Conflict(AtaiFsError, FileExistsError):
    """The request conflicts with the current state on the server (409)."""


class RequestFailed(AtaiFsError, OSError):
    """An HTTP request failed for a reason none of the more specific classes covers."""


class RateLimited(RequestFailed):
    """The server kept answering 429 Too Many Requests after our retries."""

    retryable = True


class ProtocolError(RequestFailed):
    """The server answered something the protocol does not allow (bad JSON, missing fields)."""


class UploadFailed(RequestFailed):
    """An upload could not be finished; it was aborted unless ``upload_id`` says otherwise."""


_RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def error_for_status(
    status: int,
    message: str,
    *,
    code: str | None = None,
    upload_id: str | None = None,
    retry_after: float | None = None,
) -> AtaiFsError:
    """Build the exception a Python user expects for an HTTP error status.

    ``message`` must already be redacted and should say what to do next.
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
        retryable=status in _RETRYABLE_STATUSES,
        upload_id=upload_id,
        retry_after=retry_after,
    )
