"""The sandbox API's ``ErrorResponse``: ``{"error", "code", "request_id"}``, plus an
``error_detail`` with the ``reason`` of an upload failure (spec section 2, open point 4).

Every answer carries an ``x-request-id``; an error body echoes it as ``request_id``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .._shared.errors import ApiFailure, ErrorStyle

if TYPE_CHECKING:
    from .state import Session

#: Upload failure reasons and their HTTP status (spec section 2, open point 4).
REASON_STATUS = {
    "invalid_part_checksum": 400,
    "part_out_of_range": 400,
    "part_size_mismatch": 400,
    "directory_extract_invalid_path": 400,
    "directory_extract_invalid_symlink": 400,
    "directory_extract_unsupported_entry": 400,
    "missing_parts": 409,
    "whole_checksum_mismatch": 409,
    "target_conflict": 409,
    "upload_already_completed": 409,
    "upload_expired": 410,
    "upload_aborted": 410,
    "size_limit_exceeded": 413,
    "insufficient_staging_space": 507,
}
_RETRYABLE_REASONS = frozenset({"invalid_part_checksum", "insufficient_staging_space"})

CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    409: "invalid_request",
    413: "invalid_request",
    421: "invalid_request",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "internal_error",
    503: "internal_error",
    504: "internal_error",
    507: "capacity_exceeded",
}
"""The ``code`` of an error that is not an upload failure, by status."""

REQUEST_ID = web.RequestKey("sandbox_request_id", str)


def request_id_of(request: web.Request) -> str:
    """The request's ``x-request-id``, minted on first use."""
    request_id = request.get(REQUEST_ID)
    if request_id is None:
        request_id = request[REQUEST_ID] = f"req_{secrets.token_hex(8)}"
    return request_id


class UploadError(ApiFailure):
    """An error answer: ``reason`` set for upload failures (code ``file_upload_error``)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        reason: str | None = None,
        session: Session | None = None,
        path: str | None = None,
        part_number: int | None = None,
        details: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(status, message, retry_after=retry_after)
        self.reason = reason
        self.code = code or ("file_upload_error" if reason else CODES.get(status))
        self.upload_id = session.upload_id if session else None
        self.path = path or (session.target_path if session else None)
        self.part_number = part_number
        self.details = details or {}

    @classmethod
    def upload(cls, reason: str, message: str, **kwargs: Any) -> UploadError:
        return cls(REASON_STATUS[reason], message, reason=reason, **kwargs)

    def body(self, request: web.Request) -> web.Response:
        request_id = request_id_of(request)
        body: dict[str, Any] = {
            "error": self.message,
            "code": self.code or "internal_error",
            "request_id": request_id,
        }
        if self.reason:
            detail: dict[str, Any] = {
                "reason": self.reason,
                "message": self.message,
                "retryable": self.reason in _RETRYABLE_REASONS,
                "request_id": request_id,
                "details": self.details,
            }
            for key in ("upload_id", "path", "part_number"):
                if getattr(self, key) is not None:
                    detail[key] = getattr(self, key)
            body["error_detail"] = detail
        return web.json_response(body, status=self.status)


class SandboxErrors(ErrorStyle):
    """Errors nobody raised, as an ``ErrorResponse`` with the code of :data:`CODES`."""

    def answer(self, request: web.Request, status: int, message: str) -> web.StreamResponse:
        return UploadError(status, message).body(request)
