"""The controller's error answers: Go's ``http.Error`` (plain text and a newline), or, with
``error_style="docs"``, the ``{"error": ...}`` JSON of the engine's docs."""

from __future__ import annotations

from aiohttp import web

from .._shared.errors import ErrorStyle


def text_error(status: int, message: str) -> web.Response:
    """Go's ``http.Error``: the message and a newline, as UTF-8 plain text."""
    response = web.Response(status=status, text=message + "\n", content_type="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def styled_error(error_style: str, status: int, message: str) -> web.Response:
    """A handler's refusal in the configured style (open point 3)."""
    if error_style == "docs":
        return web.json_response({"error": message}, status=status)
    return text_error(status, message)


class ControllerErrors(ErrorStyle):
    """Errors nobody raised, as Go's mux and ``http.Error`` word them, whatever the style:
    an unknown route is ``404 page not found``, a wrong method 405 with no body."""

    def answer(self, request: web.Request, status: int, message: str) -> web.StreamResponse:
        return text_error(status, message)

    def http_error(
        self, request: web.Request, error: web.HTTPException
    ) -> web.StreamResponse | None:
        if error.status == 404:
            return text_error(404, "404 page not found")
        if error.status == 405:
            return web.Response(status=405)  # the router's default: no body
        if error.status == 413:  # over max_json_body: what Go's http.MaxBytesReader says
            return text_error(413, "http: request body too large")
        return super().http_error(request, error)

    def internal_error(self, request: web.Request) -> web.StreamResponse:
        return text_error(500, "the emulator failed; see its log")
