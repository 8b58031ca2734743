"""What an Aionvision upload is: the formats and limits the API takes, the tiers, the
options stored with each file, and what happened to each file (:class:`UploadResult`).

Spec: ``aionvision-uploads.md`` (sections 3.1 and 5).  The API assigns ids
(``image_id``, ``object_key``); a client path only contributes its last component as
the file name sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ...engine.config import one_of
from ...engine.ratelimit import RateLimit
from ...errors import ConfigurationError, FileTooLarge, InvalidRequest, UnsupportedFormat

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_STREAM_LIMIT",
    "MAX_HASHES_PER_CHECK",
    "SUPPORTED_TYPES",
    "TIERS",
    "FileEntry",
    "Tier",
    "UploadOptions",
    "UploadResult",
    "check_file",
    "content_type_for",
    "file_name",
    "tier_named",
    "tier_rate_limit",
]

#: Files up to this size go through ``POST /user-files/upload/stream``.  The API says
#: "100 MB"; the decimal reading is the safe one (a 413 still falls back to presigned).
DEFAULT_STREAM_LIMIT = 100 * 10**6

#: Largest file accepted at all (checked before upload).  A presigned upload is one PUT,
#: and a single storage PUT is capped at 5 GiB by S3; each URL's ``max_size_bytes``
#: applies too.
DEFAULT_MAX_FILE_SIZE = 5 * 1024**3

#: File name extension -> MIME type of the formats the API accepts (spec 3.1).
SUPPORTED_TYPES: Mapping[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".txt": "text/plain",
    ".md": "text/markdown",
}

#: Hashes per ``check-duplicates`` request (spec: 1 to 250).
MAX_HASHES_PER_CHECK = 250

_STORAGE_TARGETS = ("default", "custom")
_INTENTS = ("describe", "verify", "rules")
_MAX_TITLE = 255
_MAX_TAGS = 40
_MAX_TAG_LENGTH = 50


@dataclass(frozen=True)
class Tier:
    """A subscription tier's documented limits (spec section 5, seed values)."""

    name: str
    batch_size: int
    """Files per ``stream-batch`` request."""
    requests_per_minute: int
    monthly_uploads: int | None
    """``None``: unlimited."""


TIERS: Mapping[str, Tier] = {
    "free": Tier("free", 10, 10, 1_000),
    "starter": Tier("starter", 20, 30, 10_000),
    "professional": Tier("professional", 20, 100, 50_000),
    "enterprise": Tier("enterprise", 50, 500, None),
}


def tier_named(name: str | Tier) -> Tier:
    if isinstance(name, Tier):
        return name
    try:
        return TIERS[str(name).lower()]
    except KeyError:
        raise ConfigurationError(
            f"unknown Aionvision tier {name!r}; use one of {', '.join(TIERS)}"
        ) from None


def tier_rate_limit(tier: Tier) -> RateLimit:
    """Client pacing that stays under the tier's requests per minute: a burst of the
    whole minute's allowance, then one request per ``60 / rpm`` seconds."""
    rpm = tier.requests_per_minute
    return RateLimit(per_second=float(rpm), burst=rpm, per_minute=float(rpm))


def file_name(path: str) -> str:
    """The file name the API is sent for a path: its last component."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def content_type_for(name: str) -> str:
    """The MIME type of a supported file name; :class:`UnsupportedFormat` otherwise."""
    dot = name.rfind(".")
    suffix = name[dot:].lower() if dot > 0 else ""
    mime = SUPPORTED_TYPES.get(suffix)
    if mime is None:
        raise UnsupportedFormat(
            f"{name!r}: Aionvision accepts only JPEG, PNG, WebP, GIF, PDF, DOCX, TXT and MD "
            f"files (by extension: {', '.join(SUPPORTED_TYPES)}); nothing was uploaded. "
            "Convert the file or give it the right extension"
        )
    return mime


def check_file(name: str, size: int, max_file_size: int) -> str:
    """The file's MIME type, or a clear refusal (format, empty, too large), before any
    request."""
    content_type = content_type_for(name)
    if size <= 0:
        raise InvalidRequest(f"{name!r} is empty; Aionvision takes files of at least 1 byte")
    if size > max_file_size:
        raise FileTooLarge(
            f"{name!r} is {size} bytes, over the limit of {max_file_size} bytes "
            "(max_file_size); nothing was uploaded"
        )
    return content_type


@dataclass(frozen=True)
class UploadOptions:
    """What the API stores with each file (storage options, or per-call keywords)."""

    title: str | None = None
    tags: tuple[str, ...] = ()
    auto_describe: bool = True
    skip_duplicates: bool = False
    storage_target: str = "default"
    intent: str | None = None
    """``describe`` | ``verify`` | ``rules``: sent with ``stream-batch`` only."""

    @classmethod
    def build(cls, **values: Any) -> UploadOptions:
        """Validated options from loose values (``tags`` may be a list or a comma string)."""
        tags = values.pop("tags", None)
        if isinstance(tags, str):
            tags = [t for t in (piece.strip() for piece in tags.split(",")) if t]
        options = cls(tags=tuple(tags or ()), **{k: v for k, v in values.items() if v is not None})
        options.check()
        return options

    def merged(self, **overrides: Any) -> UploadOptions:
        """These options with per-call keywords (``None`` keeps the default) applied."""
        current = {
            "title": self.title,
            "tags": list(self.tags),
            "auto_describe": self.auto_describe,
            "skip_duplicates": self.skip_duplicates,
            "storage_target": self.storage_target,
            "intent": self.intent,
        }
        current.update({k: v for k, v in overrides.items() if v is not None})
        return UploadOptions.build(**current)

    def check(self) -> None:
        problems = []
        if self.title is not None and (not isinstance(self.title, str) or len(self.title) > 255):
            problems.append(f"title must be a string of at most {_MAX_TITLE} characters")
        if len(self.tags) > _MAX_TAGS:
            problems.append(f"at most {_MAX_TAGS} tags are allowed, got {len(self.tags)}")
        for tag in self.tags:
            if not isinstance(tag, str) or not tag or len(tag) > _MAX_TAG_LENGTH or "," in tag:
                problems.append(
                    f"tag {tag!r} must be 1 to {_MAX_TAG_LENGTH} characters without commas"
                )
        if self.storage_target not in _STORAGE_TARGETS:
            problems.append(f"storage_target must be {one_of(_STORAGE_TARGETS)}")
        if self.intent is not None and self.intent not in _INTENTS:
            problems.append(f"intent must be {one_of(_INTENTS)}")
        if problems:
            raise InvalidRequest("invalid Aionvision upload options: " + "; ".join(problems))

    def form_fields(
        self, *, skip_duplicates: bool | None = None, batch: bool = False
    ) -> dict[str, str]:
        """Multipart fields of the stream endpoints (booleans as ``true``/``false``)."""
        skip = self.skip_duplicates if skip_duplicates is None else skip_duplicates
        fields = {
            "auto_describe": _bool(self.auto_describe),
            "skip_duplicates": _bool(skip),
            "storage_target": self.storage_target,
        }
        if self.tags:
            fields["tags"] = ",".join(self.tags)
        if self.title is not None and not batch:
            fields["title"] = self.title
        if self.intent is not None and batch:
            fields["intent"] = self.intent
        return fields


def _bool(value: bool) -> str:
    return "true" if value else "false"


@dataclass
class FileEntry:
    """One local file of a ``put``: where it comes from and what it is sent as
    (``index`` is its place among the files given)."""

    index: int
    lpath: str
    name: str
    content_type: str
    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class UploadResult:
    """What happened to one file.

    ``status`` is ``uploaded`` (``image_id`` is the stored file), ``skipped`` (a
    duplicate: ``existing_image_id`` when the API named it; ``check-duplicates`` does
    not), ``failed`` (``error`` says why) or ``pending`` (accepted by batch session
    ``session_id``, still processing when ``poll_timeout`` ran out, or ``wait=False``).
    ``method`` is ``stream``, ``stream-batch``, ``presigned``, ``presigned-batch`` or
    ``check-duplicates``.
    """

    path: str
    """The local path (``put``/``put_file``) or the remote path written."""
    name: str
    """The file name sent to the API."""
    status: str
    method: str
    image_id: str | None = None
    existing_image_id: str | None = None
    object_key: str | None = None
    session_id: str | None = None
    sha256: str | None = None
    error: str | None = None
    response: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def completion(self) -> dict[str, Any]:
        """This result as the completion mapping an upload target returns."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_completion(cls, completion: Mapping[str, Any]) -> UploadResult:
        """The result an upload target's completion stands for."""
        return cls(**{f.name: completion[f.name] for f in fields(cls) if f.name in completion})
