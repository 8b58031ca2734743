"""The file formats the Uploads API takes (spec section 3: "JPEG, PNG, WebP, GIF, PDF,
DOCX, TXT, MD"): each MIME type with the file name extensions read as it, and what
stream answers report for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One format the API takes."""

    content_type: str
    """What a stored file of this format gets, and a presigned upload may declare."""
    extensions: tuple[str, ...]
    """Lower-case file name extensions (without the dot) a streamed file is read by."""
    document_type: str | None = None
    """``document_type`` of a stream answer (``pdf|docx|txt|md``); None for an image."""


_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

FORMATS = (
    Format("image/jpeg", ("jpg", "jpeg")),
    Format("image/png", ("png",)),
    Format("image/webp", ("webp",)),
    Format("image/gif", ("gif",)),
    Format("application/pdf", ("pdf",), "pdf"),
    Format(_DOCX, ("docx",), "docx"),
    Format("text/plain", ("txt",), "txt"),
    Format("text/markdown", ("md",), "md"),
)

MIME_TYPES = frozenset(f.content_type for f in FORMATS)
"""The ``content_type`` values a presigned upload may declare."""

DOCUMENT_TYPES: Mapping[str, str] = {
    f.content_type: f.document_type for f in FORMATS if f.document_type is not None
}
"""MIME type -> the ``document_type`` of a stream answer."""

_BY_EXTENSION = {extension: f.content_type for f in FORMATS for extension in f.extensions}


def content_type_of(filename: str) -> str | None:
    """The MIME type of a supported file name, by its extension; None if unsupported."""
    dot = filename.rfind(".")
    return _BY_EXTENSION.get(filename[dot + 1 :].lower()) if dot > 0 else None
