"""Error bodies (spec section 2 and open point 1): FastAPI's ``{"detail": [...]}`` for
request validation (422), the ``{"error": {...}, "request_id"}`` envelope for all else."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from .._shared.errors import ApiFailure, ErrorStyle

CODES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_API_KEY",
    402: "USAGE_LIMIT_EXCEEDED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "FILE_TOO_LARGE",
    421: "MISDIRECTED_REQUEST",
    429: "RATE_LIMIT_ERROR",
    500: "INTERNAL_ERROR",
    502: "AI_PROVIDER_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "TIMEOUT",
}
"""The code of an error the handlers did not word themselves, by status."""

Problem = tuple[tuple[str | int, ...], str, str]
"""One validation failure: its location (``("body", "filename")``), message and type."""


class AionError(ApiFailure):
    """An API failure answered with the error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(status, message, retry_after=retry_after)
        self.code = code
        self.details = details

    def body(self, request: web.Request) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return web.json_response(
            {"error": error, "request_id": str(uuid.uuid4())}, status=self.status
        )


class ValidationFailed(ApiFailure):
    """Request validation failures, answered 422 with FastAPI's ``detail`` list."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(422, "; ".join(msg for _, msg, _ in problems))
        self.problems = problems

    def body(self, request: web.Request) -> web.Response:
        detail = [{"loc": list(loc), "msg": msg, "type": kind} for loc, msg, kind in self.problems]
        return web.json_response({"detail": detail}, status=422)


def invalid(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed([(loc, msg, kind)])


class AionErrors(ErrorStyle):
    """The envelope, with the code of :data:`CODES` (``HTTP_<status>`` for the rest)."""

    def answer(self, request: web.Request, status: int, message: str) -> web.StreamResponse:
        return AionError(status, CODES.get(status, f"HTTP_{status}"), message).body(request)
