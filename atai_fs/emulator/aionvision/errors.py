"""Error bodies (spec section 2 and open point 1): FastAPI's ``{"detail": [...]}`` for
request validation (422), the ``{"error": {...}, "request_id"}`` envelope for all else."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

INJECTED_CODES = {
    400: "VALIDATION_ERROR",
    401: "INVALID_API_KEY",
    402: "USAGE_LIMIT_EXCEEDED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "FILE_TOO_LARGE",
    429: "RATE_LIMIT_ERROR",
    500: "INTERNAL_ERROR",
    502: "AI_PROVIDER_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "TIMEOUT",
}


class AionError(Exception):
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
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after = retry_after

    def to_response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        response = web.json_response(
            {"error": error, "request_id": str(uuid.uuid4())}, status=self.status
        )
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


class ValidationFailed(Exception):
    """Request validation failures, answered 422 with FastAPI's ``detail`` list."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str, str]]) -> None:
        super().__init__("; ".join(msg for _, msg, _ in problems))
        self.problems = problems

    def to_response(self) -> web.Response:
        detail = [{"loc": list(loc), "msg": msg, "type": kind} for loc, msg, kind in self.problems]
        return web.json_response({"detail": detail}, status=422)


def invalid(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed([(loc, msg, kind)])
