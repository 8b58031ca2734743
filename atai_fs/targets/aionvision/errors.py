"""What the Aionvision API's error answers mean: its envelope ``{"error": {...},
"request_id"}`` or FastAPI's ``{"detail": [...]}``, and which exception each stands for."""

from __future__ import annotations

from collections.abc import Mapping

from ...advice import pass_options
from ...errors import AtaiFsError, ProtocolError, QuotaExceeded, error_for_status
from ...http import HttpResponse
from .._api import ErrorAnswer, ErrorBody, body_text

__all__ = ["STATUS_HINTS", "aionvision_error", "parse_error_body"]

STATUS_HINTS: Mapping[int, str] = {
    401: f"check the API key ({pass_options(('api_key', ...))} or set the AIONVISION_API_KEY "
    "environment variable)",
    402: "the subscription or payment needs attention in the Aionvision dashboard",
    403: "the API key lacks permission for this",
    413: "the file or batch is over the server's size or count limit",
    429: "rate limited; lower the pace (tier=..., rate_limit=...) or retry later",
    501: "streaming uploads are not enabled for this workspace",
}

#: Codes meaning the workspace cannot take more uploads now: not worth retrying.
_QUOTA_CODES = frozenset({"STORAGE_QUOTA_EXCEEDED", "USAGE_LIMIT_EXCEEDED"})

#: Codes of transient server-side pressure, whatever their status.
_TRANSIENT_CODES = frozenset({"MEMORY_LIMIT_EXCEEDED"})


def parse_error_body(response: HttpResponse) -> ErrorBody:
    """(code, message) from either envelope, or the start of whatever else came."""
    try:
        data = response.json()
    except ProtocolError:
        return ErrorBody(message=body_text(response))
    if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
        error = data["error"]
        message = str(error.get("message") or "")
        details = error.get("details")
        if details:
            message += f" ({details})"
        if data.get("request_id"):
            message += f" [request_id {data['request_id']}]"
        code = error.get("code")
        return ErrorBody(code=str(code) if code else None, message=message)
    if isinstance(data, Mapping) and "detail" in data:
        detail = data["detail"]
        if isinstance(detail, list):
            items = []
            for item in detail:
                if isinstance(item, Mapping):
                    where = ".".join(str(p) for p in item.get("loc", ()))
                    items.append(f"{where}: {item.get('msg', '')}")
            return ErrorBody(code="VALIDATION_ERROR", message="; ".join(items))
        return ErrorBody(message=str(detail)[:300])
    return ErrorBody(message=str(data)[:300])


def aionvision_error(answer: ErrorAnswer) -> AtaiFsError:
    """The exception for an error answer: a quota error, or the status's."""
    code = answer.body.code
    if code in _QUOTA_CODES:
        return QuotaExceeded(answer.message, status=answer.status, code=code)
    return error_for_status(
        answer.status,
        answer.message,
        code=code,
        retry_after=answer.retry_after,
        retryable=True if code in _TRANSIENT_CODES else None,
    )
