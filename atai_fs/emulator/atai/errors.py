"""Error bodies: the API's ``{"errors": [...]}`` envelope.

Handlers raise :class:`ApiError`; one middleware turns it into a response, so every
error body of the API has the same shape and a fresh ``error_uid``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from aiohttp import web


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


class ApiError(Exception):
    """An API failure with its HTTP status and one or more error details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        suggestion: str | None = None,
        *,
        more: list[ErrorDetail] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.details = [ErrorDetail(code, message, suggestion), *(more or [])]

    @classmethod
    def from_details(cls, status: int, details: list[ErrorDetail]) -> ApiError:
        """Several problems found in one request, reported together (the spec allows it)."""
        first, *rest = details
        return cls(status, first.code, first.message, first.suggestion, more=rest)

    def to_response(self) -> web.Response:
        return web.json_response(
            {"errors": [d.to_json() for d in self.details]}, status=self.status
        )


def bad_request(code: str, message: str, suggestion: str | None = None) -> ApiError:
    return ApiError(400, code, message, suggestion)


def not_found(code: str, message: str, suggestion: str | None = None) -> ApiError:
    return ApiError(404, code, message, suggestion)


def conflict(code: str, message: str, suggestion: str | None = None) -> ApiError:
    return ApiError(409, code, message, suggestion)
