"""Reading and checking request values the way FastAPI does: every problem found is
reported at once, as one 422 with a ``detail`` list (open point 1)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .errors import Problem, ValidationFailed, invalid

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MD5_HEX = re.compile(r"[0-9a-f]{32}")
STORAGE_TARGETS = ("default", "custom")
_INTENTS = ("describe", "verify", "rules")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_TITLE = 255
_MAX_TAGS = 40
_MAX_TAG_LENGTH = 50


class Problems:
    """The validation problems of one request, raised together by :meth:`raise_if_any`."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, loc: tuple[str | int, ...], msg: str, kind: str) -> None:
        self.found.append((loc, msg, kind))

    def text(self, body: dict[str, Any], name: str, msg: str) -> str:
        """``body[name]`` if it is a non-empty string; else a ``missing`` problem and ``""``."""
        value = body.get(name)
        if isinstance(value, str) and value:
            return value
        self.add(("body", name), msg, "missing")
        return ""

    def positive_int(self, body: dict[str, Any], name: str) -> int:
        """``body[name]`` if it is an integer above 0; else a problem and 0."""
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        self.add(("body", name), "Input should be greater than 0", "greater_than")
        return 0

    def storage_target(self, value: str | None) -> str:
        target = value or "default"
        if target not in STORAGE_TARGETS:
            self.add(
                ("body", "storage_target"), "must match '^(default|custom)$'", "string_pattern"
            )
        return target

    def raise_if_any(self) -> None:
        if self.found:
            raise ValidationFailed(self.found)


def uuid_in_path(request: web.Request, name: str) -> str:
    """The path parameter ``name``, which must be a UUID (422 otherwise, as FastAPI)."""
    value = request.match_info[name]
    try:
        uuid.UUID(value)
    except ValueError:
        raise invalid(("path", name), "Input should be a valid UUID", "uuid_parsing") from None
    return value


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise invalid(("body",), "JSON decode error", "json_invalid") from None
    if not isinstance(body, dict):
        raise invalid(("body",), "Input should be a valid dictionary", "dict_type")
    return body


@dataclass(frozen=True)
class UploadOptions:
    """The form fields a stream upload or batch takes besides its files."""

    title: str | None
    tags: tuple[str, ...]
    storage_target: str
    auto_describe: bool
    skip_duplicates: bool

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> UploadOptions:
        problems = Problems()
        title = fields.get("title")
        if title is not None and len(title) > _MAX_TITLE:
            problems.add(("body", "title"), "at most 255 characters", "string_too_long")
        tags = tuple(t.strip() for t in fields.get("tags", "").split(",") if t.strip())
        if len(tags) > _MAX_TAGS or any(len(t) > _MAX_TAG_LENGTH for t in tags):
            problems.add(("body", "tags"), "at most 40 tags of at most 50 characters", "value")
        target = problems.storage_target(fields.get("storage_target"))
        if (fields.get("intent") or "describe") not in _INTENTS:
            problems.add(("body", "intent"), "must be describe, verify or rules", "enum")
        problems.raise_if_any()
        return cls(
            title=title,
            tags=tags,
            storage_target=target,
            auto_describe=_bool_field(fields, "auto_describe", True),
            skip_duplicates=_bool_field(fields, "skip_duplicates", False),
        )


def _bool_field(fields: dict[str, str], name: str, default: bool) -> bool:
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise invalid(("body", name), "value could not be parsed to a boolean", "bool_parsing")


def new_object_key(tenant_id: str, filename: str) -> str:
    """Where a new file is stored (open point 13): unique, the file name kept readable."""
    safe = _SAFE_NAME.sub("_", filename).strip("._") or "file"
    return f"uploads/{tenant_id}/{uuid.uuid4()}/{safe[:200]}"
