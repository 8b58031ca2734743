"""The file formats the Uploads API takes (spec section 3: "JPEG, PNG, WebP, GIF, PDF,
DOCX, TXT, MD"), by file extension, and how each is reported."""

from __future__ import annotations

from collections.abc import Mapping

CONTENT_TYPES: Mapping[str, str] = {
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
"""File extension (lower case) -> the MIME type a stored file of it gets."""

MIME_TYPES = frozenset(CONTENT_TYPES.values())
"""The ``content_type`` values a presigned upload may declare."""

DOCUMENT_TYPES: Mapping[str, str] = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/plain": "txt",
    "text/markdown": "md",
}
"""MIME type -> the ``document_type`` of a stream answer (``pdf|docx|txt|md``)."""


def content_type_of(filename: str) -> str | None:
    """The MIME type of a supported file name, by its extension; None if unsupported."""
    dot = filename.rfind(".")
    return CONTENT_TYPES.get(filename[dot:].lower()) if dot > 0 else None
