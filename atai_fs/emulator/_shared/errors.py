"""Error answers: what every API's errors have in common, and the storage's S3 XML.

Each API words its errors its own way (an envelope, FastAPI's ``detail``, plain text);
the shared middlewares only need to turn an exception into that API's answer, and to
answer in that API's words for errors nobody raised on purpose (an unknown route, an
injected fault, a bug in the emulator). :class:`ApiFailure` and :class:`ErrorStyle` are
those two hooks; :class:`StorageErrors` is the storage's.
"""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from aiohttp import web

INTERNAL_ERROR_MESSAGE = "The emulator failed; see its log"


class ApiFailure(Exception):
    """An error answer raised by an API's handlers or middlewares.

    Subclasses build the API's body in :meth:`body`; :meth:`to_response` adds the
    ``Retry-After`` header every API sends the same way.
    """

    def __init__(self, status: int, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    def body(self, request: web.Request) -> web.Response:
        raise NotImplementedError

    def to_response(self, request: web.Request) -> web.Response:
        response = self.body(request)
        if self.retry_after is not None:
            response.headers["Retry-After"] = str(self.retry_after)
        return response


class ErrorStyle:
    """How one API answers errors it did not raise: an unknown route or method, an
    injected ``status`` fault, a bug in the emulator.

    Subclasses implement :meth:`answer`; the other methods default to it.
    """

    def answer(self, request: web.Request, status: int, message: str) -> web.StreamResponse:
        """An error answer of ``status`` saying ``message``, in this API's format."""
        raise NotImplementedError

    def http_error(
        self, request: web.Request, error: web.HTTPException
    ) -> web.StreamResponse | None:
        """aiohttp's own refusal (404, 405, 413 ...) in this API's words; None lets it through."""
        return self.answer(request, error.status, error.reason)

    def injected(self, request: web.Request, status: int) -> web.StreamResponse:
        return self.answer(request, status, f"Injected fault: {status}")

    def internal_error(self, request: web.Request) -> web.StreamResponse:
        """A bug in the emulator: said in the API's own format (the log has the traceback)."""
        return self.answer(request, 500, INTERNAL_ERROR_MESSAGE)


S3_CODES = {
    400: "BadRequest",
    403: "AccessDenied",
    404: "NoSuchKey",
    405: "MethodNotAllowed",
    411: "MissingContentLength",
    413: "EntityTooLarge",
    416: "InvalidRange",
    500: "InternalError",
    503: "SlowDown",
}
"""S3's code for an error the storage did not word itself, by status."""


class StorageErrors(ErrorStyle):
    """The presigned storage's errors nobody raised (an unknown key path, a wrong method,
    an injected fault, a bug), as S3 words them: XML with the code of :data:`S3_CODES`."""

    def answer(self, request: web.Request, status: int, message: str) -> web.StreamResponse:
        code = S3_CODES.get(status, f"Http{status}")
        return s3_error(status, code, message, request.rel_url.raw_path)

    def internal_error(self, request: web.Request) -> web.StreamResponse:
        return self.answer(request, 500, "We encountered an internal error. Please try again.")


STORAGE_ERRORS = StorageErrors()


def s3_error(status: int, code: str, message: str, resource: str = "") -> web.Response:
    """An S3-style XML error, so clients that sniff storage bodies see what S3 would send."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
