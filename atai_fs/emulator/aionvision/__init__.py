"""Emulator of the Aionvision Uploads API (``shared/spec/aionvision-uploads.md``).

A real ``aiohttp.web`` server on loopback: bearer auth (one key, one tenant), stream
uploads (multipart parsed as a stream with limits), stream batches with sessions that
progress over time (status, results, cancel), quota check, duplicate check by SHA-256,
presigned batches (prepare with an upload plan, confirm, batch status), per-image
processing status, presigned upload URLs (the shared HMAC-signed
:mod:`~atai_fs.emulator._shared.storage`, with expiry and a signed ``Content-Type``)
and confirm, tiers (batch size, requests per
minute, monthly quota), the spec's error bodies, and fault injection.

    from atai_fs.emulator.aionvision import AionVisionEmulator, AionFault

    with AionVisionEmulator(tier="free", stream_limit=64 * 1024) as emu:
        emu.endpoint_url     # "http://127.0.0.1:PORT/api/v2", with emu.api_key
        emu.files            # image_id -> FileView (.filename, .sha256, .read_bytes())
        emu.usage            # uploads counted against the monthly quota
        emu.orphans()        # presigned uploads never confirmed
        emu.faults.add(AionFault(route="stream_upload", action="reset_after", nth=1))

``serve_aionvision(host, port, **options)`` serves in the foreground.

CHOICES for the spec's open points (section 8) and other gaps. The real service may
differ; clients must not depend on them.

1. Error bodies: 422 request-validation failures (missing/ill-typed fields, bad query
   values) use FastAPI's ``{"detail": [{"loc", "msg", "type"}]}``; every other error
   uses ``{"error": {"code", "message", "details"?}, "request_id"}``.  Unsupported
   formats: 400 ``VALIDATION_ERROR`` (stream, presigned) or a non-retryable rejection
   (stream-batch).  Quota used up: 402 ``USAGE_LIMIT_EXCEEDED`` (stream, confirm) or a
   non-retryable rejection.  Unknown routes: 404 ``NOT_FOUND``; bad key: 401
   ``INVALID_API_KEY``.
2. ``checksum`` in confirm: lowercase (case-insensitive) hex SHA-256, or MD5 hex (the
   storage ETag); anything else or a mismatch: 422 ``VALIDATION_ERROR``.
3. Confirm before any PUT, or with another ``size_bytes``: 422; unknown ``object_key``:
   404; confirming again: 200 with the same ``upload_id`` (= the new file's
   ``image_id``).
4. ``idempotency_key``: the same key and body returns the same ``object_key`` with a
   fresh URL (no time limit); another body: 409 ``CONFLICT``; after confirm: 409.
5. URLs live ``url_lifetime`` seconds (600); ``expires_at`` is UTC without offset, with
   milliseconds (``2025-01-15T10:40:00.123``).
6. ``upload_method`` is always ``PUT`` with ``upload_headers`` ``{"Content-Type": ...}``;
   a PUT with another ``Content-Type``: 403 ``SignatureDoesNotMatch``.  Other storage
   checks are the shared storage's (exact length, expiry 403, S3 XML errors).
7. A PUT over ``max_size_bytes`` (``presigned_max_size``, 5 GiB): 400 ``EntityTooLarge``;
   a ``size_bytes`` over it at request time: 413 ``FILE_TOO_LARGE``.
8. Stream endpoints answer 200.
9. Duplicates: SHA-256 of the bytes, per tenant, over stored files (first stored wins);
   skipped files do not count against the quota; presigned uploads never skip.
10. Tiers: ``tier`` (default ``free``) gives batch size 10/20/20/50, requests per minute
    10/30/100/500 and monthly uploads 1,000/10,000/50,000/unlimited; ``batch_size``,
    ``rate_limit_per_minute`` and ``monthly_quota`` override them.  Rate limiting is off
    unless ``rate_limit=True``: then a bucket of the minute's requests refilled
    continuously; refusals are 429 ``RATE_LIMIT_ERROR`` with ``Retry-After`` (whole
    seconds, at least 1).  More files than the batch size in one request: 413
    ``VALIDATION_ERROR``; over ``batch_max_bytes`` (200 MiB) in total: 413.
11. Processing: each file takes ``processing_delay`` seconds (default 0: done at once),
    the files of a batch one after another.  A session is ``pending`` (nothing done),
    ``processing``, then ``completed`` (``failed`` if every file failed) or
    ``cancelled``.  Sessions hold the accepted files only; rejections are in the
    stream-batch answer.  Results list finished files only.
12. Stream ``status``: ``completed`` when processing is done (at once with
    ``auto_describe=false`` or no delay), else ``processing``; ``skipped`` for a skipped
    duplicate, whose ``image_id`` and ``skipped_existing_image_id`` are the existing file.
13. Files are stored under ``object_key`` ``uploads/{tenant_id}/{uuid}/{file name with
    characters outside [A-Za-z0-9_.-] replaced by _}``; there is no read side.
14. Streaming memory: a request whose ``Content-Length`` would take the tenant's
    in-flight streaming bytes over ``tenant_memory_limit`` (500 MB) gets 429
    ``MEMORY_LIMIT_EXCEEDED`` with ``Retry-After: 1``.  ``streaming_enabled=False``: 501.
15. A file part over ``stream_limit`` (100 MiB) is drained, then 413 ``FILE_TOO_LARGE``
    (stream) or a non-retryable rejection (stream-batch).
16. Session cancel: files still processing fail with ``error_message`` "cancelled", are
    deleted and refunded; cancelling a finished session: 400.
17. Presigned batches: ``batch-prepare`` takes 1 to 5 files and a required ``intent``
    (422 otherwise); each file gets a reservation (the ``idempotency_key`` rules of
    point 4), a signed PUT URL and a pre-created ``image_id``; ``upload_plan`` is
    ``strategy`` (``batch_strategy``, ``parallel``), ``max_concurrent``
    (``batch_max_concurrent``, 3), ``retry_policy`` ``{"max_retries": 3, "backoff":
    "exponential"}`` and ``timeout_per_upload`` (``upload_timeout``, 300 s);
    ``estimated_time_seconds`` assumes 10 MiB/s.  A batch is also an upload session
    under its ``batch_id`` (``upload_method`` presigned): status, results and cancel
    work on it; its files are pending until confirmed.  Cancelling it fails the files
    not yet confirmed and revokes their URLs; a later ``batch-confirm``: 400.
18. ``batch-confirm``: a confirmation's ``object_key`` must be of the batch (else 422);
    ``success: true`` is checked as a confirm is (point 3; a checksum of SHA-256 or MD5
    hex), and a check that fails makes that file failed (with the reason) instead of
    failing the request; ``success: false`` fails the file with its ``error_message``;
    ``file_size`` is required even then and ignored.  Confirming a file again changes
    nothing.  ``processing_status``: ``queued`` (all stored), ``partial``, ``failed``
    (none stored).
19. Status: ``uploads/status/{image_id}`` knows every file stored and every file of a
    batch; ``unified_status`` is ``uploading`` (not confirmed), ``processing`` (until
    ``processing_delay`` passed), then ``completed`` or ``failed`` (a failed upload, a
    cancel, or a ``reject`` fault on the ``processing`` pseudo-route); ``is_stuck``
    once processing for ``stuck_after`` seconds (1800).  Batch status counts files by
    that status (``confirming``, ``queued`` and ``partially_completed`` stay 0) and
    ``stuck``; ``overall_status`` is ``uploading``, ``processing``, ``completed``,
    ``failed`` or ``partially_completed``.  Time comes from ``now`` (wall clock).

Faults (:class:`AionFault`, triggered like every emulator's, see
:class:`~atai_fs.emulator._shared.faults.BaseFault`):
routes ``stream_upload``, ``stream_batch``, ``quota_check``, ``check_duplicates``,
``request_presigned_url``, ``confirm``, ``session_status``, ``session_results``,
``session_cancel``, ``batch_prepare``, ``batch_confirm``, ``batch_status``,
``image_status``, ``storage_put``; the shared actions, plus ``reset_after`` (the
request lands, then the connection is reset before the answer) and ``reject`` on route
``stream_batch_file`` (tried per batch file: a ``retryable: true`` rejection) or
``processing`` (tried per stored file: its processing fails).  An
injected ``status`` on an API route uses the error envelope with a code from the status
(429 ``RATE_LIMIT_ERROR``, 503 ``SERVICE_UNAVAILABLE``...).
"""

from .app import build_aionvision_app
from .config import AionVisionConfig
from .faults import AionFault, AionFaultInjector, parse_aion_fault
from .server import AionVisionEmulator, serve_aionvision
from .state import FileView

__all__ = [
    "AionFault",
    "AionFaultInjector",
    "AionVisionConfig",
    "AionVisionEmulator",
    "FileView",
    "build_aionvision_app",
    "parse_aion_fault",
    "serve_aionvision",
]
