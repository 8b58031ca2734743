"""A real S3 bucket as an emulator's storage: multipart uploads, presigned URLs, objects.

Vendor neutral, like :mod:`.storage`, but the bytes live in any S3-compatible service
(AWS S3, MinIO, LocalStack, moto) instead of on local disk. The owner *creates* a
multipart upload, *presigns* SigV4 ``UploadPart`` URLs that the client PUTs to directly,
and *completes* it with the client's part tokens, so S3 itself judges ETags, part order
and part sizes; aborting, presigned GETs, whole-object uploads and deletes complete the
set.

boto3 is imported only when a bucket is opened (it ships with the ``atai-fs[s3]``
extra, never with the base install). Its calls block, so each one runs in a worker
thread; presigning is local arithmetic and runs inline. Credentials and region come
from boto3's usual sources (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, profiles), with ``us-east-1`` when no region is set.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import google_crc32c

MIN_PART_SIZE = 5 * 1024 * 1024
"""S3's smallest part but the last (``EntityTooSmall`` at complete below it)."""
MAX_PRESIGN_LIFETIME = 7 * 24 * 3600
"""SigV4's longest presigned-URL lifetime."""
_DEFAULT_REGION = "us-east-1"
_READ_CHUNK = 1 << 20
_T = TypeVar("_T")


class S3Refusal(Exception):
    """S3 answered a request with an error: its status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.status = status
        self.code = code
        self.message = message


class S3Unavailable(Exception):
    """S3 could not be reached or asked (connection refused, no credentials, ...)."""


@dataclass(frozen=True)
class PartToken:
    """One part as S3 lists it: its number and its ETag, quotes included."""

    part_number: int
    etag: str


class S3Bucket:
    """One bucket of an S3-compatible service, reached at ``endpoint_url``."""

    def __init__(self, bucket: str, endpoint_url: str | None = None) -> None:
        """``endpoint_url=None`` is AWS S3 itself; any other is an S3-compatible service."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ImportError("S3-backed storage needs boto3: pip install 'atai-fs[s3]'") from None
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        # SigV4 in the query string (X-Amz-Signature), path-style addressing so an
        # endpoint given as host:port works without wildcard DNS.
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or _DEFAULT_REGION,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    # -- bucket ----------------------------------------------------------------------
    async def ensure_exists(self) -> None:
        """Create the bucket unless it is there (a first run against MinIO or moto)."""

        def ensure() -> None:
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except Exception as exc:
                if _status(exc) != 404:
                    raise
                self._client.create_bucket(Bucket=self.bucket)

        await self._call(ensure)

    # -- multipart uploads -----------------------------------------------------------
    async def create_multipart_upload(self, key: str, content_type: str) -> str:
        """A new multipart upload of ``key``; its S3 upload id."""
        answer = await self._call(
            self._client.create_multipart_upload,
            Bucket=self.bucket,
            Key=key,
            ContentType=content_type,
        )
        return str(answer["UploadId"])

    def presign_upload_part(
        self, key: str, upload_id: str, part_number: int, lifetime: float
    ) -> tuple[str, float]:
        """A presigned ``UploadPart`` PUT URL and its expiry (Unix time, never later than
        the signature's own)."""
        return self._presign(
            "upload_part",
            {"Bucket": self.bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            lifetime,
        )

    async def list_parts(self, key: str, upload_id: str) -> dict[int, PartToken]:
        """Every part S3 holds for the upload, by part number (all pages)."""

        def list_all() -> dict[int, PartToken]:
            parts: dict[int, PartToken] = {}
            marker = 0
            while True:
                answer = self._client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
                for part in answer.get("Parts", []):
                    n = int(part["PartNumber"])
                    parts[n] = PartToken(n, str(part["ETag"]))
                if not answer.get("IsTruncated"):
                    return parts
                marker = int(answer["NextPartNumberMarker"])

        return await self._call(list_all)

    async def complete_multipart_upload(
        self, key: str, upload_id: str, parts: list[PartToken]
    ) -> None:
        """Assemble the parts, in part-number order, into ``key``; S3 refuses with
        ``InvalidPart``, ``InvalidPartOrder``, ``EntityTooSmall``... (:class:`S3Refusal`)."""
        await self._call(
            self._client.complete_multipart_upload,
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": p.part_number, "ETag": p.etag} for p in parts]
            },
        )

    async def abort_multipart_upload(self, key: str, upload_id: str) -> None:
        """Abort the upload; S3 deletes its parts. An upload already gone is not an error."""
        try:
            await self._call(
                self._client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id
            )
        except S3Refusal as refusal:
            if refusal.code != "NoSuchUpload":
                raise

    # -- objects ---------------------------------------------------------------------
    async def upload_file(self, key: str, path: Path, content_type: str) -> None:
        """Store a local file as ``key`` (boto3 picks single or multipart PUTs)."""
        await self._call(
            self._client.upload_file,
            str(path),
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type},
        )

    async def delete(self, key: str) -> None:
        """Delete ``key``; deleting an absent key is not an error (S3's rule)."""
        await self._call(self._client.delete_object, Bucket=self.bucket, Key=key)

    async def crc32c(self, key: str) -> int:
        """CRC32C of the object's bytes, streamed back from S3: what was really stored."""

        def checksum() -> int:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
            crc = 0
            try:
                while chunk := body.read(_READ_CHUNK):
                    crc = google_crc32c.extend(crc, chunk)
            finally:
                body.close()
            return crc

        return await self._call(checksum)

    def presign_get(self, key: str, lifetime: float) -> tuple[str, float]:
        """A presigned GET URL of ``key`` and its expiry (Unix time)."""
        return self._presign("get_object", {"Bucket": self.bucket, "Key": key}, lifetime)

    # -- plumbing --------------------------------------------------------------------
    def _presign(self, method: str, params: dict[str, Any], lifetime: float) -> tuple[str, float]:
        # SigV4 counts whole seconds from the signing instant: round down, at least 1 s,
        # so the expiry reported is never later than the one S3 enforces.
        issued = time.time()
        seconds = max(1, min(MAX_PRESIGN_LIFETIME, math.floor(lifetime)))
        url = self._client.generate_presigned_url(method, Params=params, ExpiresIn=seconds)
        return str(url), float(math.floor(issued) + seconds)

    async def _call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run one blocking boto3 call in a worker thread, its errors as ours."""
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except Exception as exc:
            raise _translate(exc) from exc


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _translate(exc: Exception) -> Exception:
    """botocore's ``ClientError`` as :class:`S3Refusal`; failures to reach or sign
    (``BotoCoreError``: no credentials, connection refused) as :class:`S3Unavailable`."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return S3Refusal(
            _status(exc) or 500, str(error.get("Code", "Unknown")), str(error.get("Message", ""))
        )
    if isinstance(exc, BotoCoreError):
        return S3Unavailable(str(exc))
    return exc
