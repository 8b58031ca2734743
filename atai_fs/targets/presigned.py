"""The part PUT shared by every target whose parts go to presigned storage URLs.

A presigned URL carries its own authority, so the request has no ``Authorization``
header (the :class:`~atai_fs.http.HttpClient` only adds one for the API's origin), an
exact ``Content-Length`` and the bytes of the part.  The storage service's answer is
mapped here once: the ``ETag`` becomes the part token verbatim (quotes included), an
expired signature becomes :class:`~atai_fs.errors.UrlExpired` so the engine refreshes
the URL, and transient statuses become retryable errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..engine.body import PartBody
from ..engine.plan import PartSpec
from ..engine.retry import parse_retry_after
from ..errors import AtaiFsError, UrlExpired, error_for_status
from ..http import HttpClient, HttpResponse
from ..redact import query_values, redact_text, redact_url

__all__ = ["put_part_presigned", "storage_error"]


async def put_part_presigned(
    http: HttpClient,
    part: PartSpec,
    body: PartBody,
    *,
    headers: Mapping[str, str] | None = None,
) -> str:
    """PUT ``body`` to the part's presigned URL and return its ``ETag`` verbatim."""
    response = await http.put_body(part.url, body, length=part.length, headers=headers)
    if response.status in (200, 201):
        return response.headers.get("ETag", "")
    raise storage_error(response, part)


def is_expired_url(response: HttpResponse) -> bool:
    """S3 semantics: 403 for an expired signature, 400 ``TokenExpired`` for expired
    signing credentials."""
    return response.status == 403 or (response.status == 400 and "TokenExpired" in response.text)


def storage_error(response: HttpResponse, part: PartSpec) -> AtaiFsError:
    """The exception for a failed part PUT (secret-free)."""
    snippet = redact_text(" ".join(response.text.split())[:300], query_values(part.url))
    where = f"PUT of part {part.number} to {redact_url(part.url)}"
    if is_expired_url(response):
        return UrlExpired(
            f"{where} was refused as expired (HTTP {response.status}); a fresh URL is "
            "requested automatically",
            status=response.status,
        )
    return error_for_status(
        response.status,
        f"{where} failed: HTTP {response.status}: {snippet}",
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )
