"""The direct (non-resumable) upload of one small file (spec 4.6)::

    PUT /v1/machines/{id}/file?path=<path>&user=<user>     raw bytes -> 204 (route "direct")

No session, no checksum, no conflict policy of its own: the file is written over an
existing file (as ``conflict: "merge"`` does; a directory in the way is 409
``target_conflict``).  The body is staged, then placed by the same
:meth:`~.files.SandboxFiles.publish_file` a session's complete uses, so both routes
follow one set of destination rules.  A body over ``max_part_bytes`` is 413
``size_limit_exceeded`` (one request carries at most one part's worth).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets

from aiohttp import web

from .._shared.transfer import save_body
from .checks import sandbox_id_of
from .context import context_of
from .errors import UploadError
from .files import PathRejected, normalize_target

_READ_CHUNK = 1 << 20
_USER = re.compile(r"^[a-z_][a-z0-9_-]*$")


def add_routes(app: web.Application) -> None:
    app.router.add_put("/v1/machines/{sandbox_id}/file", upload_file_direct, name="direct")


async def upload_file_direct(request: web.Request) -> web.StreamResponse:
    ctx = context_of(request)
    sandbox_id = sandbox_id_of(request)
    path = request.query.get("path")
    user = request.query.get("user") or None
    if not path:
        raise UploadError(400, "the path query parameter is required")
    if user is not None and not _USER.match(user):
        raise UploadError(400, f"user must be a user name, got {user!r:.40}")
    try:
        target = normalize_target(path, user, ctx.config.roots)
    except PathRejected as exc:
        raise UploadError(400, exc.message, path=exc.path) from None
    limit = ctx.config.max_part_bytes
    if (request.content_length or 0) > limit:
        raise _too_large(target, limit)
    staging = ctx.config.data_dir / "direct"
    staging.mkdir(parents=True, exist_ok=True)
    body = staging / f"{secrets.token_hex(8)}.tmp"
    ctx.stats.put_started()
    received: int | None = None
    try:
        received = await save_body(
            request, body, expected=limit, digest=hashlib.sha256(), chunk_size=_READ_CHUNK
        )
        if received > limit:
            raise _too_large(target, limit)
        try:
            await asyncio.to_thread(ctx.files.publish_file, sandbox_id, target, [body], "merge")
        except PathRejected as exc:
            raise UploadError.upload(exc.reason, exc.message, path=target) from None
    finally:
        ctx.stats.put_finished(stored_bytes=received)
        body.unlink(missing_ok=True)
    return web.Response(status=204)


def _too_large(target: str, limit: int) -> UploadError:
    return UploadError.upload(
        "size_limit_exceeded",
        f"the direct upload route takes at most {limit} bytes; use an upload session",
        path=target,
        details={"max_bytes": limit},
    )
