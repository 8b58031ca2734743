"""Reading and validating request bodies and query values, with the spec's error codes."""

from __future__ import annotations

import json
from typing import Any, TypeGuard

from aiohttp import web

from .errors import ApiError, ErrorDetail, bad_request

MAX_NAME_LENGTH = 1024


async def read_json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object body; an empty body counts as ``{}`` only when ``optional``."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise bad_request("missing_parameter", "Request body is empty; a JSON object is required")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request("invalid_body", f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise bad_request("invalid_body", "Request body must be a JSON object")
    return body


def is_int(value: object) -> TypeGuard[int]:
    """JSON integers only: ``True`` is an int to Python, not to the API."""
    return isinstance(value, int) and not isinstance(value, bool)


def name_problem(name: Any, field: str) -> ErrorDetail | None:
    """Why ``name`` cannot be a ``file_id``, or None. Names may contain ``/``."""
    if name is None:
        return ErrorDetail("missing_parameter", f"'{field}' is required")
    if not isinstance(name, str) or not name:
        return ErrorDetail("invalid_parameter", f"'{field}' must be a non-empty string")
    if "\x00" in name:
        return ErrorDetail("invalid_parameter", f"'{field}' must not contain NUL characters")
    if len(name) > MAX_NAME_LENGTH:
        return ErrorDetail(
            "invalid_parameter", f"'{field}' is longer than {MAX_NAME_LENGTH} characters"
        )
    return None


def raise_if_any(problems: list[ErrorDetail | None], status: int = 400) -> None:
    found = [p for p in problems if p is not None]
    if found:
        raise ApiError.from_details(status, found)


def query_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(
            "invalid_parameter", f"'{name}' must be an integer, got {raw!r}"
        ) from None
