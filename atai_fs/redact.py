"""The one place that hides secrets before anything is logged, raised or printed.

Presigned URLs carry their authority in the query string (``X-Amz-Signature``,
``X-Goog-Signature``, ``sig``, tokens...), so any URL we show keeps its scheme, host
and path but never its query values.  API keys are replaced wherever they occur.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["REDACTED", "query_values", "redact_text", "redact_url"]

REDACTED = "***"

_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")


def redact_url(url: str) -> str:
    """Return ``url`` with every query value replaced by ``***`` (names are kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    if not parts.query:
        return url
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    query = "&".join(f"{name}={REDACTED}" for name in names) or REDACTED
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def query_values(url: str) -> list[str]:
    """The query values of ``url`` (signatures, tokens), to scrub from error bodies that
    echo them back, as S3's ``SignatureDoesNotMatch`` does."""
    try:
        return [value for _, value in parse_qsl(urlsplit(url).query) if len(value) >= 6]
    except ValueError:
        return []


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove known secrets, bearer tokens and URL query values from free text."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _BEARER_RE.sub(rf"\g<1>{REDACTED}", text)
    return _URL_RE.sub(lambda match: redact_url(match.group(0)), text)
