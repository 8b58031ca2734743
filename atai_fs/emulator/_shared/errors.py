"""The storage's error bodies: S3-style XML, as every emulated object store answers."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape

from aiohttp import web


def s3_error(status: int, code: str, message: str, resource: str = "") -> web.Response:
    """An S3-style XML error, so clients that sniff storage bodies see what S3 would send."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
