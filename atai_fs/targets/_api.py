"""What every API module shares: one call path, one error translation, answer checks.

Each vendor's client (:class:`~atai_fs.targets.atai.AtaiApi`, the sandbox, Aionvision
and flow clients) is an :class:`ApiClient`: one request goes through :meth:`ApiClient.call`,
which waits for the filesystem's rate limiter, sends through the filesystem's
:class:`~atai_fs.http.HttpClient`, reports 429s and successes back to the limiter, and turns
any non-2xx answer into the exception a Python user expects.  A vendor only says how its
error bodies look (:meth:`ApiClient.parse_error`) and, where it has its own exception
classes, which one an answer means (:meth:`ApiClient.make_error`).

Calls here are single attempts; callers wrap whole operations in the filesystem's
:class:`~atai_fs.engine.retry.RetryPolicy`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar, overload

import aiohttp

from ..engine.ratelimit import RateLimiter
from ..engine.retry import parse_retry_after
from ..errors import AtaiFsError, ProtocolError, error_for_status
from ..http import HttpClient, HttpResponse

__all__ = [
    "ApiClient",
    "ErrorAnswer",
    "ErrorBody",
    "error_message",
    "json_field",
    "json_object",
    "parse_rfc3339",
    "parse_timestamp",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ErrorBody:
    """What an error answer says, whatever its envelope: the machine ``code``, the human
    ``message``, a documented ``reason`` (sandbox) and any further ``details``."""

    code: str | None = None
    message: str = ""
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorAnswer:
    """One error answer, read: its ``status``, its ``body``, the redacted ``message``
    to raise with, the ``upload_id`` concerned and the ``Retry-After`` seconds."""

    status: int
    body: ErrorBody
    message: str
    upload_id: str | None = None
    retry_after: float | None = None


class ApiClient:
    """Single-attempt calls to one vendor's API (see the module docstring)."""

    #: Status -> what the user should do, appended to error messages.
    status_hints: Mapping[int, str] = {}

    def __init__(
        self,
        http: HttpClient,
        limiter: RateLimiter | None = None,
        *,
        require_key: Callable[[], None] | None = None,
    ) -> None:
        """``require_key`` raises before any request when no key is configured."""
        self.http = http
        self.limiter = limiter or RateLimiter(None)
        self._require_key = require_key

    async def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        transfer: bool = False,
        upload_id: str | None = None,
    ) -> HttpResponse:
        """Send one API request; raise the mapped error for any non-2xx answer.

        ``transfer=True`` (a request carrying a large body) bounds silence on the socket
        instead of the whole call, since a large body may take longer than an API call
        may.  ``what`` names the operation in messages ("initiating the upload of ...").
        """
        if self._require_key is not None:
            self._require_key()
        await self.limiter.acquire()
        timeout = None
        if transfer:
            timeouts = self.http.timeouts
            timeout = aiohttp.ClientTimeout(
                total=None, connect=timeouts.connect, sock_read=timeouts.read
            )
        response = await self.http.send(
            method,
            self.http.api_url(path),
            json=json,
            params=params,
            data=data,
            headers=headers,
            timeout=timeout,
        )
        if 200 <= response.status < 300:
            self.limiter.on_success()
            return response
        if response.status == 429:
            self.limiter.on_throttled()
        raise self.error(response, what, upload_id=upload_id)

    async def call_json(self, method: str, path: str, *, what: str, **kwargs: Any) -> Any:
        """:meth:`call`, then the answer's JSON (a :class:`ProtocolError` if it is not)."""
        response = await self.call(method, path, what=what, **kwargs)
        return response.json()

    def parse_error(self, response: HttpResponse) -> ErrorBody:
        """Read an error answer; vendors override this for their envelope."""
        return ErrorBody(message=body_text(response))

    def error(
        self,
        response: HttpResponse,
        what: str,
        *,
        upload_id: str | None = None,
        note: str | None = None,
    ) -> AtaiFsError:
        """The exception for an error answer, its message redacted.

        ``note`` adds what the caller found out about the failure (e.g. why a file
        cannot be downloaded).
        """
        body = self.parse_error(response)
        upload_id = upload_id or _text(body.details.get("upload_id"))
        message = error_message(
            what,
            response.status,
            code=body.reason or body.code,
            detail=body.message,
            hint=self.hint(response.status, body),
            upload_id=upload_id,
        )
        if note:
            message = f"{message}; {note}"
        return self.make_error(
            ErrorAnswer(
                status=response.status,
                body=body,
                message=self.http.redact(message),
                upload_id=upload_id,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        )

    def hint(self, status: int, body: ErrorBody) -> str | None:
        """What to do about an error answer (default: the status's hint)."""
        return self.status_hints.get(status)

    def make_error(self, answer: ErrorAnswer) -> AtaiFsError:
        """The exception class an answer means; vendors with classes of their own override."""
        return error_for_status(
            answer.status,
            answer.message,
            code=answer.body.code,
            upload_id=answer.upload_id,
            retry_after=answer.retry_after,
        )


def _text(value: Any) -> str | None:
    return str(value) if value else None


def body_text(response: HttpResponse, limit: int = 300) -> str:
    """The start of an answer's body as one line (for bodies that are not JSON)."""
    return " ".join(response.text.split())[:limit]


# -- reading answers ---------------------------------------------------------------------


def json_object(data: Any, what: str, *, retryable: bool = False) -> Mapping[str, Any]:
    """``data`` if it is a JSON object, else a :class:`ProtocolError` naming ``what``.

    ``retryable=True`` where a retry cannot do harm (an idempotent call, or one whose
    retry the server recognises by its idempotency key).
    """
    if not isinstance(data, Mapping):
        raise ProtocolError(
            f"{what}: the answer is not a JSON object ({data!r:.100})", retryable=retryable
        )
    return data


@overload
def json_field(data: Mapping[str, Any], name: str, kind: type[T], what: str) -> T: ...


@overload
def json_field(
    data: Mapping[str, Any], name: str, kind: tuple[type[Any], ...], what: str
) -> Any: ...


def json_field(
    data: Mapping[str, Any], name: str, kind: type[Any] | tuple[type[Any], ...], what: str
) -> Any:
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


# -- timestamps --------------------------------------------------------------------------

_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d)[Tt ](\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:?\d\d)?")


def parse_rfc3339(value: str, *, naive_is_utc: bool = False) -> float:
    """Unix time of an RFC 3339 timestamp, as the APIs write them.

    Takes what Python 3.10's ``fromisoformat`` does not: ``Z``, nanoseconds (Go's
    encoder writes nine fraction digits), offsets with or without a colon.  RFC 3339
    requires an offset; ``naive_is_utc`` reads one without as UTC (the ISO 8601 examples
    of some APIs).  Raises ``ValueError``.
    """
    match = _RFC3339.fullmatch(value.strip())
    if match is None or (match.group(4) is None and not naive_is_utc):
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    day, clock, fraction, offset = match.groups()
    moment = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=timezone.utc)
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    seconds = moment.timestamp()
    if fraction:
        seconds += int(fraction) / 10 ** len(fraction)
    return seconds


def parse_timestamp(value: Any) -> float | None:
    """An optional ISO 8601 field (``expires_at``): its Unix time, UTC when it has no
    offset; ``None`` when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_rfc3339(value, naive_is_utc=True)
    except ValueError:
        return None
