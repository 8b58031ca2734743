"""Error bodies: the API's ``{"errors": [...]}`` envelope.

Handlers raise :class:`ApiError`; one middleware turns it into a response, so every
error body of the API has the same shape and a fresh ``error_uid``. Errors nobody
raised (an unknown route, an injected fault, a bug) get the same envelope, with a code
from :data:`CODES` (:class:`FilesApiErrors`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiohttp import web

from .._shared.errors import ApiFailure, ErrorStyle

CODES = {
    400: "invalid_parameter",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "conflict",
    413: "invalid_file_size",
    416: "range_not_satisfiable",
    421: "misdirected_request",
    429: "RATE_LIMIT_EXCEEDED",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
"""The code of an error the handlers did not word themselves, by status."""


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of the ``errors`` array."""

    code: str
    message: str
    suggestion: str | None = None

    def to_json(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.suggestion:
            body["suggestion"] = self.suggestion
        body["error_uid"] = f"err-{uuid.uuid4()}"
        return body


class ApiError(ApiFailure):
    """An API failure with its HTTP status and one or more error details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        suggestion: str | None = None,
        *,
        more: list[ErrorDetail] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(status, message, retry_after=retry_after)
        self.details = [ErrorDetail(code, message, suggestion), *(more or [])]

    @classmethod
    def from_details(cls, status: int, details: list[ErrorDetail]) -> ApiError:
        """Several problems found in one request, reported together (the spec allows it)."""
        first, *rest = details
        return cls(status, first.code, first.message, first.suggestion, more=rest)

    def body(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": [d.to_json() for d in self.details]}, status=self.status
        )


class FilesApiErrors(ErrorStyle):
    """The envelope, with the code of :data:`CODES` (``HTTP_<status>`` for the rest)."""

    def answer(self, request: web.Request, status: int, message: str) -> web.StreamResponse:
        return ApiError(status, CODES.get(status, f"HTTP_{status}"), message).body(request)


def bad_request(code: str, message: str, suggestion: str | None = None) -> ApiError:
    return ApiError(400, code, message, suggestion)


def not_found(code: str, message: str, suggestion: str | None = None) -> ApiError:
    return ApiError(404, code, message, suggestion)


def conflict(code: str, message: str, suggestion: str | None = None) -> ApiError:
    return ApiError(409, code, message, suggestion)
