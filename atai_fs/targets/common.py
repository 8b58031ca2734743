"""What every API module needs to read answers and word errors the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ProtocolError

__all__ = ["error_message", "json_field", "json_object"]


def json_object(data: Any, what: str) -> Mapping[str, Any]:
    """``data`` if it is a JSON object, else a :class:`ProtocolError` naming ``what``."""
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{what}: the answer is not a JSON object ({data!r:.100})")
    return data


def json_field(data: Mapping[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    """``data[name]`` if it has type ``kind`` (a bool is not an int here)."""
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ProtocolError(
            f"{what}: the server's answer lacks a valid {name!r} field (got {value!r:.80})"
        )
    return value


def error_message(
    what: str,
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    hint: str | None = None,
    upload_id: str | None = None,
) -> str:
    """``"<what> failed: HTTP <status> <code>: <detail> (<hint>) [upload <id>]"``; the
    caller redacts it."""
    message = f"{what} failed: HTTP {status}"
    if code:
        message += f" {code}"
    if detail:
        message += f": {detail}"
    if hint:
        message += f" ({hint})"
    if upload_id:
        message += f" [upload {upload_id}]"
    return message
