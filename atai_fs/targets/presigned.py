"""The part PUT shared by every target whose parts go to presigned storage URLs, and the
target of one whole object behind one presigned PUT URL.

A presigned URL carries its own authority, so the request has no ``Authorization``
header (the :class:`~atai_fs.http.HttpClient` only adds one for the API's origin), an
exact ``Content-Length`` and the bytes of the part.  The storage service's answer is
mapped here once: the ``ETag`` becomes the part token verbatim (quotes included), an
expired signature becomes :class:`~atai_fs.errors.UrlExpired` so the engine refreshes
the URL, and transient statuses become retryable errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..engine.body import PartBody
from ..engine.plan import PartSpec, UploadPlan
from ..engine.retry import parse_retry_after
from ..engine.target import Completion, UploadTarget
from ..errors import (
    AtaiFsError,
    AuthError,
    FileTooLarge,
    InvalidRequest,
    PresignedUrlRefused,
    UrlExpired,
    error_for_status,
)
from ..http import HttpClient, HttpResponse
from ..redact import query_values, redact_url

__all__ = [
    "MAX_SINGLE_PUT_SIZE",
    "PresignedPutTarget",
    "check_headers",
    "is_expired_url",
    "put_part_presigned",
    "s3_error",
    "single_put_plan",
    "storage_error",
]

#: S3's limit for one ``PUT`` of a whole object (5 GiB); larger objects need multipart,
#: which a presigned PUT URL cannot do.
MAX_SINGLE_PUT_SIZE = 5 * 1024**3

#: Headers the PUT sets itself; a caller may not override them.
_RESERVED_HEADERS = frozenset({"authorization", "content-length", "transfer-encoding"})


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
    raise storage_error(response, part, http)


#: The codes S3 (and the official client) use for credentials or signatures past their time.
_EXPIRED_CODES = frozenset({"ExpiredToken", "TokenExpired", "RequestExpired"})
_XML_FIELD = re.compile(r"<(Code|Message)>([^<]{0,500})</\1>")


def s3_error(response: HttpResponse) -> tuple[str | None, str]:
    """``(Code, Message)`` of an S3 XML error body (``(None, start of body)`` for any other;
    read with a bounded pattern, never an XML parser fed untrusted entities)."""
    text = response.text
    fields = dict(_XML_FIELD.findall(text[:4000]))
    if fields:
        return fields.get("Code"), fields.get("Message", "")
    return None, " ".join(text.split())[:300]


def is_expired_url(response: HttpResponse) -> bool:
    """S3 semantics: a presigned URL past its time is 403 (``AccessDenied`` "Request has
    expired"), or 400 ``ExpiredToken``/``TokenExpired`` when its signing credentials
    expired; a fresh URL from the API fixes both."""
    code, message = s3_error(response)
    if response.status == 403:
        return code != "SignatureDoesNotMatch"
    expired = code in _EXPIRED_CODES or "expired" in message.lower()
    return response.status == 400 and (expired or "TokenExpired" in response.text)


def storage_error(response: HttpResponse, part: PartSpec, http: HttpClient) -> AtaiFsError:
    """The exception for a failed part PUT in the storage's own words, without a secret
    (the key, or the signature an error such as ``SignatureDoesNotMatch`` echoes)."""
    code, message = s3_error(response)
    said = http.redact(f"{code}: {message}" if code else message, query_values(part.url))
    where = f"PUT of part {part.number} to {redact_url(part.url)}"
    if code == "SignatureDoesNotMatch" or is_expired_url(response):
        # Refreshed and resent by the engine; a fresh URL refused again is final.
        return UrlExpired(
            f"{where} was refused (HTTP {response.status} {said}); a fresh URL is requested "
            "automatically",
            status=response.status,
            code=code,
        )
    return error_for_status(
        response.status,
        f"{where} failed: HTTP {response.status}: {said}",
        code=code,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Caller headers for a presigned PUT, refusing the ones the PUT sets itself."""
    checked = dict(headers or {})
    for name in checked:
        if name.lower() in _RESERVED_HEADERS:
            raise InvalidRequest(
                f"header {name!r} cannot be set on a presigned PUT: the URL carries its own "
                "authority (storage refuses a second one) and the length is always exact"
            )
    return checked


def single_put_plan(
    upload_id: str, size: int, url: str, *, details: Mapping[str, Any]
) -> UploadPlan:
    """The plan of an object sent in one PUT: one part covering every byte."""
    part = PartSpec(number=1, offset=0, length=size, url=url)
    return UploadPlan(
        upload_id=upload_id, total_bytes=size, num_parts=1, parts=[part], details=details
    )


class PresignedPutTarget(UploadTarget):
    """One object behind one presigned PUT URL, as an upload target whose plan is a
    single part.

    Subclasses that learn their URL from an API (the flow engine) override
    :meth:`resolve_url`; :meth:`expired_error` says what to do when storage refuses it.
    """

    def __init__(
        self,
        http: HttpClient,
        url: str | None = None,
        *,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        max_size: int = MAX_SINGLE_PUT_SIZE,
        description: str | None = None,
    ) -> None:
        self.http = http
        self.url = url
        self.content_type = content_type
        self.headers = check_headers(headers)
        if content_type:
            self.headers["Content-Type"] = content_type
        self.max_size = max_size
        self.description = description or (redact_url(url) if url else "a presigned URL")

    def check_size(self, size: int) -> None:
        """Refuse sizes one PUT cannot carry, before any request."""
        if size < 0:
            raise InvalidRequest(f"{self.description}: size must not be negative, got {size}")
        if size > self.max_size:
            raise FileTooLarge(
                f"{self.description}: {size} bytes is over the single-PUT limit of "
                f"{self.max_size} bytes (5 GiB); a presigned PUT URL takes one whole object "
                "in one request, so split the data into several objects"
            )

    async def resolve_url(self, size: int) -> tuple[str, Mapping[str, Any]]:
        """The URL to PUT to and details kept in the plan."""
        if not self.url:
            raise InvalidRequest("no presigned URL was given")
        return self.url, {}

    async def initiate(self, size: int) -> UploadPlan:
        """Nothing to call: check the size, then plan one part at the URL."""
        self.check_size(size)
        url, details = await self.resolve_url(size)
        return single_put_plan(self.description, size, url, details=details)

    async def refresh_urls(self, plan: UploadPlan, numbers: Sequence[int]) -> list[PartSpec]:
        """A presigned URL cannot be renewed by its user: the plan's part as it is."""
        return list(plan.parts)

    async def put_part(self, part: PartSpec, body: PartBody) -> str:
        try:
            return await put_part_presigned(self.http, part, body, headers=self.headers)
        except UrlExpired as exc:
            raise self.expired_error(exc) from None

    def expired_error(self, exc: UrlExpired) -> AuthError:
        return PresignedUrlRefused(
            f"{self.description}: the storage refused the URL as expired or not authorised "
            f"(HTTP {exc.status}); ask whoever issued it for a fresh one",
            status=exc.status,
        )

    async def complete(
        self, plan: UploadPlan, tokens: Mapping[int, str], *, crc32c: int | None = None
    ) -> Completion:
        """Nothing to call: the object exists once its one PUT succeeded (storage makes
        a single PUT atomic).  Returns the ``ETag`` and the plan's details."""
        return {"etag": tokens.get(1, ""), "size": plan.total_bytes, **plan.details}

    async def abort(self, plan: UploadPlan) -> None:
        """Nothing to call: a PUT that did not succeed left no object behind."""
