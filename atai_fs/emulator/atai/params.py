"""Reading and validating request bodies and query values, with the spec's error codes."""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from aiohttp import web

from .._shared.bodies import MalformedBody, parse_json
from .errors import ApiError, ErrorDetail, bad_request

MAX_NAME_LENGTH = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


async def read_json_object(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The JSON object body; an empty body counts as ``{}`` only when ``optional``."""
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise bad_request("missing_parameter", "Request body is empty; a JSON object is required")
    try:
        body = parse_json(raw)
    except MalformedBody as exc:
        raise bad_request("invalid_body", f"Malformed request body: {exc}") from None
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
    if _CONTROL.search(name):
        # A name with a raw CR or LF could be uploaded but never named again: no path
        # matches it (and NUL ends names on most filesystems).
        return ErrorDetail(
            "invalid_parameter",
            f"'{field}' must not contain control characters (NUL, CR, LF, ...), got {name!r:.80}",
        )
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
