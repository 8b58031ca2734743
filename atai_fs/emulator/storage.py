"""Presigned storage: an S3-like PUT endpoint reached through HMAC-signed, expiring URLs.

Vendor neutral, so every emulated upload API can hand out part URLs from it. The owner
*reserves* an object key with the exact length it expects, *presigns* URLs for it, reads
the stored object (size, quoted-MD5 ETag, path) when the client reports it, and *releases*
the keys of a finished or abandoned upload.

URL format::

    {origin}/storage/{key}?X-Amz-Expires={unix_expiry}&X-Amz-Signature={hex}

``X-Amz-Expires`` is the absolute expiry in Unix seconds (millisecond precision, so tests
can use sub-second lifetimes); the signature is HMAC-SHA256 over ``"PUT\\n{path}\\n{expiry}"``
with a per-emulator secret. Checks, in S3's order: an ``Authorization`` header (400, two
auth mechanisms), signature (403 ``SignatureDoesNotMatch``), expiry (403 ``AccessDenied`` /
``Request has expired``), unknown or released key (404 ``NoSuchUpload``), missing length or
chunked body (411 ``MissingContentLength``), length other than reserved (400).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .errors import s3_error
from .stats import EmulatorStats

ROUTE_PREFIX = "/storage"
ROUTE_NAME = "storage_put"
_CHUNK = 1 << 20
_KEY_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


@dataclass(frozen=True)
class StoredObject:
    """A part as storage holds it."""

    key: str
    size: int
    etag: str
    """Quoted MD5 hex, exactly the ``ETag`` header sent to the client."""
    path: Path


@dataclass(frozen=True)
class _Slot:
    length: int
    generation: int


class PresignedStorage:
    """Objects on disk under ``root``, written only through presigned PUT URLs."""

    def __init__(self, root: Path, secret: bytes, stats: EmulatorStats) -> None:
        self.root = root
        self._secret = secret
        self._stats = stats
        self._slots: dict[str, _Slot] = {}
        self._objects: dict[str, StoredObject] = {}
        self._generation = 0
        # Keys never outlive the process that reserved them: start from an empty tree.
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- owner side ------------------------------------------------------------------
    def reserve(self, key: str, length: int) -> None:
        """Accept PUTs of exactly ``length`` bytes at ``key`` from now on."""
        if not _KEY_RE.fullmatch(key) or ".." in key.split("/"):
            raise ValueError(f"invalid storage key {key!r}")
        self._generation += 1
        self._slots[key] = _Slot(length, self._generation)

    def release(self, prefix: str) -> None:
        """Forget ``prefix`` and every key under it, and delete their bytes."""
        self.revoke(prefix)
        for key in [k for k in self._objects if k == prefix or k.startswith(prefix + "/")]:
            del self._objects[key]
        shutil.rmtree(self.root / prefix, ignore_errors=True)

    def revoke(self, prefix: str) -> None:
        """Refuse further PUTs under ``prefix`` but keep the stored objects (to assemble them)."""
        for key in [k for k in self._slots if k == prefix or k.startswith(prefix + "/")]:
            del self._slots[key]

    def get(self, key: str) -> StoredObject | None:
        return self._objects.get(key)

    def presign_put(self, key: str, origin: str, lifetime: float) -> tuple[str, float]:
        """A PUT URL for ``key`` valid for ``lifetime`` seconds, and its expiry (Unix time)."""
        expiry = f"{time.time() + lifetime:.3f}"
        path = f"{ROUTE_PREFIX}/{key}"
        signature = self._sign("PUT", path, expiry)
        url = f"{origin}{path}?X-Amz-Expires={expiry}&X-Amz-Signature={signature}"
        return url, float(expiry)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_put(ROUTE_PREFIX + "/{key:.+}", self.handle_put, name=ROUTE_NAME)

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
        if "Authorization" in request.headers:
            return s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Signature query "
                "parameter or the Authorization header should be specified",
                path,
            ), None
        expiry = request.query.get("X-Amz-Expires", "")
        signature = request.query.get("X-Amz-Signature", "")
        if not expiry or not signature:
            return s3_error(
                403,
                "AccessDenied",
                "Query-string authentication requires X-Amz-Expires and X-Amz-Signature",
                path,
            ), None
        if not hmac.compare_digest(signature, self._sign("PUT", path, expiry)):
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                path,
            ), None
        if time.time() > float(expiry):
            return s3_error(403, "AccessDenied", "Request has expired", path), None
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
        if request.content_length != slot.length:
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
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        digest = hashlib.md5(usedforsecurity=False)
        received = 0
        try:
            with open(tmp, "wb") as out:
                async for chunk in request.content.iter_chunked(_CHUNK):
                    received += len(chunk)
                    if received > slot.length:
                        break
                    digest.update(chunk)
                    out.write(chunk)
            if received != slot.length:
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
        etag = f'"{digest.hexdigest()}"'
        self._objects[key] = StoredObject(key, received, etag, target)
        return web.Response(status=200, headers={"ETag": etag}), received

    def _sign(self, method: str, path: str, expiry: str) -> str:
        message = f"{method}\n{path}\n{expiry}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
