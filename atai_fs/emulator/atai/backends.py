"""Where the emulated service keeps bytes: an upload's parts and the files they become.

Two backends answer the same questions, so the handlers in :mod:`.uploads_api` and
:mod:`.files_api` are written once:

- :class:`LocalBackend` (``storage="local"``, the default): parts and files in
  ``data_dir``, reached through the HMAC-signed URLs of :mod:`.._shared.storage`. It
  checks every part token itself and assembles the file by concatenation.
- :class:`S3Backend` (``storage="s3"``): a real S3-compatible bucket
  (:mod:`.._shared.s3_storage`). Initiate creates an S3 multipart upload and hands out
  SigV4 presigned ``UploadPart`` URLs; checkpoint compares tokens with ``ListParts``;
  complete sends the client's tokens to ``CompleteMultipartUpload``, so S3 itself judges
  ETags, part order and sizes; abort aborts; downloads redirect to presigned GETs. Files
  are objects ``{s3_prefix}files/{file_uid}``; the index of files stays in ``data_dir``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import Protocol, TypeVar

import google_crc32c
from aiohttp import web

from .._shared.s3_storage import PartToken, S3Bucket, S3Refusal, S3Unavailable
from .._shared.stats import EmulatorStats
from .._shared.storage import PresignedStorage, url_origin
from .._shared.transfer import send_file
from .config import EmulatorConfig
from .errors import ApiError, bad_request
from .file_index import FileIndex, FileRecord
from .state import Upload

BLOB_PREFIX = "files"
"""Key prefix of completed files in storage (presigned GETs of downloads)."""
_COPY_CHUNK = 1 << 20
_T = TypeVar("_T")


class Backend(Protocol):
    """What the handlers ask of storage. Methods raise :class:`~.errors.ApiError` for an
    answer the client should see (a bad token, a refusal by storage)."""

    def add_routes(self, app: web.Application) -> None:
        """Serve the presigned URLs, where they point at the emulator itself."""

    async def start(self) -> None:
        """Get ready before the first request (S3: the bucket exists)."""

    async def begin(self, upload: Upload) -> None:
        """Accept PUTs of the upload's parts from now on."""

    def part_url(
        self, upload: Upload, part_number: int, origin: str, lifetime: float
    ) -> tuple[str, float]:
        """A presigned PUT URL for one part and its expiry (Unix time)."""

    async def check_tokens(self, upload: Upload, tokens: dict[int, str]) -> None:
        """400 ``invalid_part_token`` unless every token is its stored part's ETag."""

    async def publish(self, upload: Upload, tokens: dict[int, str], want_crc: bool) -> int | None:
        """Assemble the parts (all of them, with these tokens) into the file
        ``upload.file_uid``; its CRC32C if asked. No more PUTs are accepted after it
        starts; on an :class:`ApiError` the upload stays open, on any other failure the
        caller discards it."""

    async def discard(self, upload: Upload) -> None:
        """Forget the upload's parts (abort, or a failed complete)."""

    async def store_file(self, file_uid: str, source: Path, content_type: str) -> None:
        """Make a finished local file (a simple upload) the file ``file_uid``."""

    async def drop_file(self, file_uid: str) -> None:
        """Delete a file's bytes (deleted, or replaced by a newer file of the name)."""

    async def download(self, request: web.Request, record: FileRecord) -> web.StreamResponse:
        """The answer to a download of ``record``: its bytes, or a redirect to them."""

    async def close(self, open_uploads: list[Upload]) -> None:
        """At emulator stop: let go of the uploads still in progress."""


def backend_for(config: EmulatorConfig, stats: EmulatorStats, files: FileIndex) -> Backend:
    """The backend ``config.storage`` names."""
    if config.storage == "s3":
        assert config.bucket is not None
        return S3Backend(
            S3Bucket(config.bucket, config.s3_endpoint_url), config.s3_prefix, files.tmp_dir
        )
    storage = PresignedStorage(
        config.data_dir / "parts",
        config.signing_secret,
        stats,
        opaque_etags=config.etag_style == "opaque",
    )
    return LocalBackend(storage, files, config, stats)


def invalid_token(n: int) -> ApiError:
    return bad_request(
        "invalid_part_token",
        f"part_token of part {n} does not match the uploaded part's ETag",
        "Send the ETag header of the part's PUT response, quotes included",
    )


def never_uploaded(n: int) -> ApiError:
    return bad_request("invalid_part_token", f"Part {n} was never uploaded")


class LocalBackend:
    """Parts and files in ``data_dir``, behind :class:`PresignedStorage`."""

    def __init__(
        self,
        storage: PresignedStorage,
        files: FileIndex,
        config: EmulatorConfig,
        stats: EmulatorStats,
    ) -> None:
        self.storage = storage
        self._files = files
        self._config = config
        self._stats = stats
        self._blob_dir = config.data_dir / "blobs"
        self._blob_dir.mkdir(parents=True, exist_ok=True)
        storage.expose(BLOB_PREFIX, self._current_blob, ranges=not config.ignore_range)

    def add_routes(self, app: web.Application) -> None:
        self.storage.add_routes(app)

    async def start(self) -> None:
        return None

    async def begin(self, upload: Upload) -> None:
        for n in upload.part_numbers:
            self.storage.reserve(upload.storage_key(n), upload.part_range(n)[1])

    def part_url(
        self, upload: Upload, part_number: int, origin: str, lifetime: float
    ) -> tuple[str, float]:
        return self.storage.presign_put(upload.storage_key(part_number), origin, lifetime)

    async def check_tokens(self, upload: Upload, tokens: dict[int, str]) -> None:
        for n, token in tokens.items():
            self._part_path(upload, n, token)

    async def publish(self, upload: Upload, tokens: dict[int, str], want_crc: bool) -> int | None:
        paths = [self._part_path(upload, n, tokens[n]) for n in upload.part_numbers]
        self.storage.revoke(upload.storage_key())
        blob = self._files.new_tmp_path()
        try:
            crc = await asyncio.get_running_loop().run_in_executor(
                None, _concatenate, paths, blob, want_crc
            )
            os.replace(blob, self._blob_path(upload.file_uid))
        finally:
            blob.unlink(missing_ok=True)
        self.storage.release(upload.storage_key())
        return crc

    async def discard(self, upload: Upload) -> None:
        self.storage.release(upload.storage_key())

    async def store_file(self, file_uid: str, source: Path, content_type: str) -> None:
        os.replace(source, self._blob_path(file_uid))

    async def drop_file(self, file_uid: str) -> None:
        self._blob_path(file_uid).unlink(missing_ok=True)

    async def download(self, request: web.Request, record: FileRecord) -> web.StreamResponse:
        if self._config.redirect_downloads:
            origin = url_origin(request, self._config.public_url)
            url, _ = self.storage.presign_get(
                f"{BLOB_PREFIX}/{record.file_uid}", origin, self._config.url_lifetime
            )
            return web.Response(status=307, headers={"Location": url})
        headers = {"Content-Type": "application/octet-stream", "ETag": f'"{record.file_uid}"'}
        return await send_file(
            request,
            self._blob_path(record.file_uid),
            record.num_bytes,
            headers,
            honour_range=not self._config.ignore_range,
            on_bytes=self._stats.add_bytes_served,
        )

    async def close(self, open_uploads: list[Upload]) -> None:
        return None  # parts on disk are wiped at the next start

    def _blob_path(self, file_uid: str) -> Path:
        return self._blob_dir / file_uid

    def _current_blob(self, file_uid: str) -> Path | None:
        """The blob of a current file (None once it was replaced or deleted)."""
        known = any(record.file_uid == file_uid for record in self._files)
        return self._blob_path(file_uid) if known else None

    def _part_path(self, upload: Upload, n: int, token: str) -> Path:
        stored = self.storage.get(upload.storage_key(n))
        if stored is None:
            raise never_uploaded(n)
        if stored.etag != token:
            raise invalid_token(n)
        return stored.path


class S3Backend:
    """Parts and files in an S3 bucket; S3 judges what the client sends."""

    def __init__(self, bucket: S3Bucket, prefix: str, tmp_dir: Path) -> None:
        self._bucket = bucket
        self._prefix = prefix
        self._tmp_dir = tmp_dir
        self._s3_upload_ids: dict[str, str] = {}
        """Our upload_id -> the S3 multipart upload id behind it."""

    def add_routes(self, app: web.Application) -> None:
        return None  # clients PUT to S3 itself

    async def start(self) -> None:
        try:
            await self._bucket.ensure_exists()
        except (S3Refusal, S3Unavailable) as exc:
            where = self._bucket.endpoint_url or "AWS S3"
            raise ConnectionError(
                f"cannot use bucket {self._bucket.bucket!r} at {where}: {exc} (credentials "
                "come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or an AWS profile)"
            ) from None

    async def begin(self, upload: Upload) -> None:
        s3_id = await _guarded(
            self._bucket.create_multipart_upload(self._key(upload.file_uid), upload.file_type)
        )
        self._s3_upload_ids[upload.upload_id] = s3_id

    def part_url(
        self, upload: Upload, part_number: int, origin: str, lifetime: float
    ) -> tuple[str, float]:
        return self._bucket.presign_upload_part(
            self._key(upload.file_uid),
            self._s3_upload_ids[upload.upload_id],
            _s3_part_number(upload, part_number),
            lifetime,
        )

    async def check_tokens(self, upload: Upload, tokens: dict[int, str]) -> None:
        held = await _guarded(
            self._bucket.list_parts(
                self._key(upload.file_uid), self._s3_upload_ids[upload.upload_id]
            )
        )
        for n, token in tokens.items():
            part = held.get(_s3_part_number(upload, n))
            if part is None:
                raise never_uploaded(n)
            if part.etag != token:
                raise invalid_token(n)

    async def publish(self, upload: Upload, tokens: dict[int, str], want_crc: bool) -> int | None:
        key = self._key(upload.file_uid)
        parts = [PartToken(_s3_part_number(upload, n), tokens[n]) for n in upload.part_numbers]
        try:
            await self._bucket.complete_multipart_upload(
                key, self._s3_upload_ids[upload.upload_id], parts
            )
        except S3Refusal as refusal:
            if refusal.status >= 500:
                raise _storage_unavailable(refusal) from None
            raise bad_request(
                _REFUSAL_CODES.get(refusal.code, "invalid_parts"),
                f"storage refused to assemble the parts ({refusal})",
                "Upload every part again from the URLs of this upload and send their ETags",
            ) from None
        except S3Unavailable as exc:
            raise _storage_unavailable(exc) from None
        del self._s3_upload_ids[upload.upload_id]
        if not want_crc:
            return None
        try:
            return await self._bucket.crc32c(key)
        except (S3Refusal, S3Unavailable) as exc:
            # The object exists but cannot be vouched for: never publish it unchecked.
            await _guarded(self._bucket.delete(key))
            raise RuntimeError(f"cannot read back {key!r} to check its CRC32C: {exc}") from None

    async def discard(self, upload: Upload) -> None:
        s3_id = self._s3_upload_ids.pop(upload.upload_id, None)
        if s3_id is not None:
            await _guarded(self._bucket.abort_multipart_upload(self._key(upload.file_uid), s3_id))

    async def store_file(self, file_uid: str, source: Path, content_type: str) -> None:
        await _guarded(self._bucket.upload_file(self._key(file_uid), source, content_type))

    async def drop_file(self, file_uid: str) -> None:
        await _guarded(self._bucket.delete(self._key(file_uid)))

    async def download(self, request: web.Request, record: FileRecord) -> web.StreamResponse:
        url, _ = self._bucket.presign_get(self._key(record.file_uid), _DOWNLOAD_URL_LIFETIME)
        return web.Response(status=307, headers={"Location": url})

    async def close(self, open_uploads: list[Upload]) -> None:
        """Abort the S3 uploads still open, so the bucket keeps no orphan parts."""
        for upload in open_uploads:
            with contextlib.suppress(ApiError):  # storage gone at shutdown: nothing to do
                await self.discard(upload)

    def _key(self, file_uid: str) -> str:
        return f"{self._prefix}{BLOB_PREFIX}/{file_uid}"


_DOWNLOAD_URL_LIFETIME = 3600.0
_REFUSAL_CODES = {
    "InvalidPart": "invalid_part_token",
    "InvalidPartOrder": "invalid_part_number",
    "EntityTooSmall": "part_too_small",
    "NoSuchUpload": "upload_not_found",
}
"""S3's word for a refused complete -> the API's (spec section 10, open point 7)."""


def _s3_part_number(upload: Upload, part_number: int) -> int:
    """S3 numbers parts from 1, whatever base the API shows the client."""
    return part_number - upload.part_number_base + 1


def _storage_unavailable(cause: Exception) -> ApiError:
    return ApiError(503, "storage_unavailable", f"Storage did not answer: {cause}", "Retry later")


async def _guarded(call: Awaitable[_T]) -> _T:
    """One S3 call; its failure as the API's answer: 503 when storage cannot be reached or
    fails (the client retries), 502 when it refuses (the emulator's bug or storage's)."""
    try:
        return await call
    except S3Unavailable as exc:
        raise _storage_unavailable(exc) from None
    except S3Refusal as refusal:
        if refusal.status >= 500:
            raise _storage_unavailable(refusal) from None
        raise ApiError(
            502, "storage_error", f"Storage refused the request ({refusal})", "Retry later"
        ) from None


def _concatenate(parts: list[Path], target: Path, want_crc: bool) -> int | None:
    """Concatenate the parts into ``target`` (in a worker thread); CRC32C of the whole if asked.

    The CRC32C is ``google_crc32c``'s: a library of its own, not the client's checksum code.
    """
    crc = 0
    with open(target, "wb") as out:
        for path in parts:
            with open(path, "rb") as src:
                if not want_crc:
                    shutil.copyfileobj(src, out, _COPY_CHUNK)
                    continue
                while chunk := src.read(_COPY_CHUNK):
                    crc = google_crc32c.extend(crc, chunk)
                    out.write(chunk)
    return crc if want_crc else None
