"""Presigned storage: an S3-like PUT endpoint reached through HMAC-signed, expiring URLs.

Vendor neutral, so every emulated upload API can hand out part URLs from it. The owner
*reserves* an object key with the exact length it expects, *presigns* URLs for it, reads
the stored object (size, quoted-MD5 ETag, path) when the client reports it, and *releases*
the keys of a finished or abandoned upload.

URL format::

    {origin}/storage/{key}?X-Amz-Expires={unix_expiry}&X-Amz-Signature={hex}

``X-Amz-Expires`` is the absolute expiry in Unix seconds, truncated to the millisecond
(so tests can use sub-second lifetimes, and a URL never outlives what it was issued
for); the signature is HMAC-SHA256 over ``"PUT\\n{path}\\n{expiry}"`` with a
per-emulator secret. Checks, in S3's order: an ``Authorization`` header (400, two
auth mechanisms), signature (403 ``SignatureDoesNotMatch``), expiry (403 ``AccessDenied`` /
``Request has expired``), unknown or released key (404 ``NoSuchUpload``), missing length or
chunked body (411 ``MissingContentLength``), length other than reserved (400), or, for a
key reserved with any length, over its maximum (400 ``EntityTooLarge``).

The owner may also *expose* read-only objects under a key prefix (a resolver maps the
rest of the key to a file) and *presign* GET URLs for them, signed the same way over
``"GET\n{path}\n{expiry}"``. GETs run the same checks (unknown object: 404
``NoSuchKey``) and honour one ``Range`` unless told not to.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .errors import s3_error
from .guards import bound_origin
from .scratch import claim_scratch_dir
from .stats import EmulatorStats
from .transfer import save_body, send_file

ROUTE_PREFIX = "/storage"
PUT_ROUTE = "storage_put"
GET_ROUTE = "storage_get"
STORAGE_ROUTES = frozenset({PUT_ROUTE, GET_ROUTE})
"""Route names of the storage (in ``stats.requests_by_route`` and fault routes)."""
_CHUNK = 1 << 20
_KEY_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
MAX_KEY_BYTES = 1024
"""S3's longest object key."""


def url_origin(request: web.Request, public_url: str | None) -> str:
    """Scheme and host to put in presigned URLs: ``public_url`` when the emulator is
    reached through a proxy, else the address it is bound to (never the request's
    ``Host`` header, which a rebinding web page chooses)."""
    if public_url:
        return public_url.rstrip("/")
    return bound_origin(request)


@dataclass(frozen=True)
class StoredObject:
    """A part as storage holds it."""

    key: str
    size: int
    etag: str
    """Quoted MD5 hex (or, with opaque ETags, a random 32-hex string), exactly the ``ETag``
    header sent to the client."""
    path: Path
    content_type: str | None = None
    """The ``Content-Type`` the PUT carried (unsigned, so any value is kept as sent)."""


@dataclass(frozen=True)
class _Slot:
    length: int | None
    """Exact length expected, or ``None`` for any length up to ``max_length``."""
    generation: int
    max_length: int | None = None


class PresignedStorage:
    """Objects on disk under ``root``, written only through presigned PUT URLs: one flat
    file per key, since S3's namespace is flat (``dir`` and ``dir/child`` both exist)."""

    def __init__(
        self, root: Path, secret: bytes, stats: EmulatorStats, *, opaque_etags: bool = False
    ) -> None:
        """``opaque_etags``: answer each PUT with a random 32-hex ETag instead of the MD5,
        as S3 does for SSE-KMS/SSE-C buckets: the MD5 is not part of S3's promise."""
        self.root = root
        self._opaque_etags = opaque_etags
        self._secret = secret
        self._stats = stats
        self._slots: dict[str, _Slot] = {}
        self._objects: dict[str, StoredObject] = {}
        self._generation = 0
        self._exposed: dict[str, tuple[Callable[[str], Path | None], bool]] = {}
        claim_scratch_dir(root)  # keys never outlive the process that reserved them

    # -- owner side ------------------------------------------------------------------
    def reserve(self, key: str, length: int | None, *, max_length: int | None = None) -> None:
        """Accept PUTs at ``key`` from now on: of exactly ``length`` bytes, or, with
        ``length=None`` (a whole object of a size the owner does not know, as a plain S3
        presigned PUT), of any length up to ``max_length`` (400 ``EntityTooLarge`` above)."""
        segments = key.split("/")
        if (
            not _KEY_RE.fullmatch(key)
            or "." in segments
            or ".." in segments
            or len(key) > MAX_KEY_BYTES
        ):
            raise ValueError(f"invalid storage key {key!r}")
        self._generation += 1
        self._slots[key] = _Slot(length, self._generation, max_length)

    def release(self, prefix: str) -> None:
        """Forget ``prefix`` and every key under it, and delete their bytes."""
        self.revoke(prefix)
        for key in [k for k in self._objects if k == prefix or k.startswith(prefix + "/")]:
            self._objects.pop(key).path.unlink(missing_ok=True)

    def revoke(self, prefix: str) -> None:
        """Refuse further PUTs under ``prefix`` but keep the stored objects (to assemble them)."""
        for key in [k for k in self._slots if k == prefix or k.startswith(prefix + "/")]:
            del self._slots[key]

    def get(self, key: str) -> StoredObject | None:
        return self._objects.get(key)

    def expose(
        self, prefix: str, resolve: Callable[[str], Path | None], *, ranges: bool = True
    ) -> None:
        """Serve GETs of ``{prefix}/{name}`` from ``resolve(name)`` (None: no such object)."""
        self._exposed[prefix] = (resolve, ranges)

    def presign_put(
        self, key: str, origin: str, lifetime: float, *, issued_at: float | None = None
    ) -> tuple[str, float]:
        """A PUT URL for ``key`` valid for ``lifetime`` seconds from ``issued_at`` (default:
        now), and its expiry (Unix time): exactly the instant the storage enforces."""
        return self._presign("PUT", key, origin, lifetime, issued_at)

    def presign_get(
        self, key: str, origin: str, lifetime: float, *, issued_at: float | None = None
    ) -> tuple[str, float]:
        """A GET URL for an exposed ``key``, as :meth:`presign_put`."""
        return self._presign("GET", key, origin, lifetime, issued_at)

    def _presign(
        self, method: str, key: str, origin: str, lifetime: float, issued_at: float | None
    ) -> tuple[str, float]:
        # Truncated, never rounded up: an expiry reported to the client (a TTL, an
        # expires_at) must not be later than "issued + lifetime", the promise it stands for.
        issued = time.time() if issued_at is None else issued_at
        expiry_ms = math.floor((issued + lifetime) * 1000)
        expiry = f"{expiry_ms // 1000}.{expiry_ms % 1000:03d}"
        path = f"{ROUTE_PREFIX}/{key}"
        signature = self._sign(method, path, expiry)
        url = f"{origin}{path}?X-Amz-Expires={expiry}&X-Amz-Signature={signature}"
        return url, expiry_ms / 1000

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put(ROUTE_PREFIX + "/{key:.+}", self.handle_put, name=PUT_ROUTE)
        app.router.add_get(ROUTE_PREFIX + "/{key:.+}", self.handle_get, name=GET_ROUTE)

    # -- client side -----------------------------------------------------------------
    async def handle_put(self, request: web.Request) -> web.StreamResponse:
        self._stats.put_started()
        stored: int | None = None
        try:
            response, stored = await self._put(request)
            return response
        finally:
            self._stats.put_finished(stored_bytes=stored)

    async def _put(self, request: web.Request) -> tuple[web.StreamResponse, int | None]:
        key = request.match_info["key"]
        path = request.rel_url.raw_path
        refusal = self._check_signature(request, "PUT")
        if refusal is not None:
            return refusal, None
        slot = self._slots.get(key)
        if slot is None:
            return s3_error(404, "NoSuchUpload", "The specified upload does not exist.", path), None
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if chunked or request.content_length is None:
            return s3_error(
                411,
                "MissingContentLength",
                "You must provide the Content-Length HTTP header.",
                path,
            ), None
        if slot.length is None:
            if slot.max_length is not None and request.content_length > slot.max_length:
                return s3_error(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size.",
                    path,
                ), None
        elif request.content_length != slot.length:
            return s3_error(
                400,
                "InvalidRequest",
                f"Content-Length {request.content_length} does not match the part length "
                f"{slot.length}.",
                path,
            ), None
        return await self._receive(request, key, slot, path)

    async def _receive(
        self, request: web.Request, key: str, slot: _Slot, resource: str
    ) -> tuple[web.StreamResponse, int | None]:
        """Stream the body to a temp file, then move it in place: a part is whole or absent."""
        expected = slot.length if slot.length is not None else request.content_length
        assert expected is not None
        target = self._object_file(key)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        try:
            received = await save_body(
                request, tmp, expected=expected, digest=digest, chunk_size=_CHUNK
            )
            if received != expected:
                return s3_error(
                    400,
                    "IncompleteBody",
                    "You did not provide the number of bytes specified by the Content-Length.",
                    resource,
                ), None
            if self._slots.get(key) != slot:
                return s3_error(
                    404, "NoSuchUpload", "The specified upload does not exist.", resource
                ), None
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        etag = f'"{uuid.uuid4().hex if self._opaque_etags else digest.hexdigest()}"'
        content_type = request.headers.get("Content-Type")
        self._objects[key] = StoredObject(key, received, etag, target, content_type)
        return web.Response(status=200, headers={"ETag": etag}), received

    async def handle_get(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        path = request.rel_url.raw_path
        refusal = self._check_signature(request, "GET")
        if refusal is not None:
            return refusal
        prefix, _, name = key.partition("/")
        exposed = self._exposed.get(prefix)
        target = exposed[0](name) if exposed is not None and name else None
        try:
            size = target.stat().st_size if target is not None else None
        except FileNotFoundError:
            size = None
        if target is None or size is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.", path)
        assert exposed is not None
        headers = {"Content-Type": "application/octet-stream", "ETag": f'"{name}"'}
        return await send_file(
            request,
            target,
            size,
            headers,
            honour_range=exposed[1],
            on_bytes=self._stats.add_bytes_served,
        )

    def _object_file(self, key: str) -> Path:
        """Where the bytes of ``key`` live: one flat file per key, named by its hash. S3
        keys are flat, so ``dir`` and ``dir/child`` are two objects, stored in either
        order; a directory per ``/`` would put one in the way of the other."""
        return self.root / hashlib.sha256(key.encode()).hexdigest()

    def _check_signature(self, request: web.Request, method: str) -> web.Response | None:
        """The S3 error for a request whose query signature does not hold, in S3's order."""
        path = request.rel_url.raw_path
        if "Authorization" in request.headers:
            return s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Signature query "
                "parameter or the Authorization header should be specified",
                path,
            )
        expiry = request.query.get("X-Amz-Expires", "")
        signature = request.query.get("X-Amz-Signature", "")
        if not expiry or not signature:
            return s3_error(
                403,
                "AccessDenied",
                "Query-string authentication requires X-Amz-Expires and X-Amz-Signature",
                path,
            )
        # Bytes, not str: compare_digest refuses non-ASCII str, and a query may hold any.
        given = signature.encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, self._sign(method, path, expiry).encode()):
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                path,
            )
        if time.time() > float(expiry):
            return s3_error(403, "AccessDenied", "Request has expired", path)
        return None

    def _sign(self, method: str, path: str, expiry: str) -> str:
        message = f"{method}\n{path}\n{expiry}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
