"""The one place that hides secrets before anything is logged, raised or printed.

Presigned URLs carry their authority in the query string (``X-Amz-Signature``,
``X-Goog-Signature``, ``sig``, tokens...), so any URL we show keeps its scheme, host
and path but never its query values.  A known secret (an API key, a signature) is
replaced wherever it occurs when it is long enough to be nobody's word (8 characters or
more), and only where it stands as a whole token when shorter: a key such as ``k`` must
not star every ``k`` of a message.  ``Bearer <API key>`` (a server's advice) names a
placeholder, not a credential, and stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["REDACTED", "query_values", "redact_text", "redact_url"]

REDACTED = "***"

_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
#: RFC 6750's b64token: what follows ``Bearer`` when it is a credential (not ``<API key>``).
_BEARER_RE = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*")
#: Characters that continue a token: a short secret next to one of them is part of
#: another word, a name or a URL (a key ``atai`` is not the scheme of ``atai://x``).
_TOKEN_CHARS = r"A-Za-z0-9_\-.:/"
#: The shortest secret replaced as a substring; a shorter one only as a whole token.
_MIN_SECRET = 8


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
        return [value for _, value in parse_qsl(urlsplit(url).query) if len(value) >= _MIN_SECRET]
    except ValueError:
        return []


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove known secrets, bearer tokens and URL query values from free text."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            text = text.replace(secret, REDACTED)
        elif secret:
            token = rf"(?<![{_TOKEN_CHARS}]){re.escape(secret)}(?![{_TOKEN_CHARS}])"
            text = re.sub(token, REDACTED, text)
    text = _BEARER_RE.sub(rf"\g<1>{REDACTED}", text)
    return _URL_RE.sub(lambda match: redact_url(match.group(0)), text)
