"""Emulator of the Archetype AI Files API, for offline tests and demos.

A real ``aiohttp.web`` server on loopback implementing ``shared/spec/atai-files-api.md``:
bearer auth, the direct-to-cloud upload flow (initiate, presigned part PUTs, checkpoint,
resume, complete, abort), simple and base64 uploads, metadata listing in both forms,
ranged downloads and delete. Completed files persist in ``data_dir``.

    from atai_fs.emulator import ATAIEmulator

    with ATAIEmulator(part_size=64 * 1024) as emu:
        emu.endpoint_url      # "http://127.0.0.1:PORT/v0.5", with emu.api_key
        emu.stats.part_puts   # live counters, see EmulatorStats
        emu.uploads           # upload_id -> view with .state, .filename, .num_parts, ...

        emu.orphans()         # uploads still in progress: tests assert there are none

In-process async use: ``build_app(EmulatorConfig(data_dir=...))`` gives the
``web.Application``; ``serve(...)`` runs it in the foreground (``atai-fs serve``) and
takes the same keyword arguments as ``ATAIEmulator``.

Misbehaving on purpose (all off by default)::

    ATAIEmulator(
        seed=0,                          # fault RNG: same seed + same requests = same failures
        faults=["route=storage_put,action=status,status=503,probability=0.1,retry_after=1"],
        rate_limit=True,                 # 100 requests/min, bursts of 20/s, on API routes
        rate_limit_per_minute=100, rate_limit_burst_per_second=20,
        latency=0.03,                    # seconds before every request, API and storage
        put_bandwidth=16e6,              # bytes/s per storage PUT (one TCP path)
        link_bandwidth=400e6,            # bytes/s shared by all concurrent storage PUTs
        ignore_range=True,               # downloads answer 200 with the whole body
        redirect_downloads=True,         # downloads answer 307 to a presigned storage GET
        max_page_size=2,                 # cursor listings cap ``limit`` at this
        etag_style="opaque",             # part ETags are random 32-hex, not MD5s
        rate_limit_retry_after=False,    # 429s carry no Retry-After
    )
    ATAIEmulator(profile="strict")       # all of the hard answers at once (see below)
    emu.faults.add(route="complete", action="reset", nth=1)    # or add(Fault(...))
    emu.faults.add(route="*", action="latency", delay=0.5, times=3)
    emu.faults.add(route="storage_put", status=503, start=2, duration=60)  # an outage
    emu.faults.fired                     # {Fault: times applied}; emu.faults.clear()

``Fault`` fields: ``route`` (a ``stats.requests_by_route`` name, or ``"*"`` for every route
the action applies to), ``action`` (``status``, ``reset``, ``slow``, ``latency``,
``malformed_json``, ``truncated_json``, ``wrong_etag``, ``expire_url``), ``status``,
``retry_after``, ``body``, ``delay``, the trigger ``times`` / ``nth`` / ``probability``,
and the time window ``start`` / ``duration``: active from ``start`` seconds (default 0)
after the fault was added, or after the emulator's start for the faults it was created
with, for ``duration`` seconds (default: no end); outside its window a fault counts no
requests. The window is read on the emulator's ``clock`` (``ATAIEmulator(clock=...)``,
default ``time.monotonic``; a test can share a virtual clock with the client to play a
minute-long outage in a moment); see :class:`~atai_fs.emulator.Fault`.
``parse_fault("key=value,...")`` reads the same fields (``format_fault`` writes them;
``"route=storage_put,status=503,start=2,duration=60"``); a fault that cannot apply to its
route, or any nonsense, is a ``ValueError``.

``profile="strict"`` (``atai-fs serve --profile strict``) answers every open point of
the spec the hardest plausible way at once: ``etag_style="opaque"``, 1-based parts,
``ignore_range`` and ``redirect_downloads``, ``rate_limit`` with
``rate_limit_retry_after=False``, ``url_lifetime=30``, ``max_page_size=2``. Options
given beside the profile win. A client passing against both profiles depends on none of
the choices below.

``storage="s3"`` (``atai-fs serve --storage s3://BUCKET[/PREFIX] --s3-endpoint URL``)
keeps parts and files in a real S3-compatible bucket instead (:mod:`.backends`): part
URLs are SigV4 presigned ``UploadPart`` URLs of a real S3 multipart upload, S3 judges
the tokens and part sizes at complete, downloads redirect to presigned S3 GETs. The
choices below that concern storage (ETag format, PUT checks, storage faults, shaping)
are then S3's, not ours.

With the built-in storage, presigned part URLs look like
``http://HOST:PORT/storage/{upload_id}/{part_number}?X-Amz-Expires={unix}&X-Amz-Signature={hex}``
(see :mod:`atai_fs.emulator._shared.storage`). With ``redirect_downloads``, downloads redirect to
``http://HOST:PORT/storage/files/{file_uid}?X-Amz-Expires=...&X-Amz-Signature=...``.

CHOICES for the spec's open points (section 10). The real service may differ; clients
must not depend on any of these.

1. Part numbers: ``part_number_base`` option, default 1; 0 also supported.
2. Part number not an integer, out of range, or duplicated in checkpoint/complete: 400
   ``invalid_part_number``. Duplicates in ``parts/urls`` are allowed and share one URL;
   more than 10,000 entries (the most parts an upload has): 400 ``invalid_parameter``.
3. Unknown ``upload_id``: 404 ``upload_not_found`` (one org per emulator).
4. Every call on an aborted upload, abort included: 404 ``upload_not_found``.
5. ``parts/urls``, checkpoint, complete and abort on a completed upload: 409
   ``upload_already_completed``. Checkpoint, complete and abort hold their upload while
   they run (a complete from its body's first byte): one arriving meanwhile waits, then
   is answered for the state left (an abort after a complete: 409
   ``upload_already_completed``); ``parts/urls`` during a complete: 409 ``upload_completing``.
6. Complete with a part neither checkpointed nor listed: 400 ``missing_parts``; the upload
   stays in progress.
7. Token different from the stored part's ETag, or part never PUT: 400
   ``invalid_part_token`` (checkpoint and complete; a checkpoint request is all or nothing).
   Checksum mismatch: the file is registered (replacing a same-named file) with
   ``FILE_STATUS_CORRUPT`` and ``is_valid: false``, stays listed and counted, download
   answers 400; complete answers 400 ``checksum_mismatch`` and the upload is completed.
8. Complete may list checkpointed parts; a token in the complete request wins over the
   checkpointed one.
9. ``num_checkpointed`` counts parts whose stored token is new or changed.
10. ``integrity_checksum``: base64 of the big-endian CRC32C; bad base64 or not 4 bytes: 400
    ``invalid_parameter``; sent while ``integrity_algorithm`` is ``none``: 400
    ``invalid_parameter``. The algorithm is the ``integrity_algorithm`` option (default none).
11. Parts of ``part_size`` (default 8 MiB), last one shorter; at most 10,000 parts, larger
    files get a bigger part size (whole MiB). ``num_bytes == 0``: one part of length 0.
    ``num_bytes`` negative or over ``max_file_size`` (250 GB): 400 ``invalid_file_size``.
12. Initiate accepts any ``type/subtype`` MIME string; anything else: 400 ``invalid_file_type``.
    Simple uploads accept any type too.
13. Initiate without ``resume_if_started`` while an upload of that name is in progress: a
    new independent upload; the old one stays valid. Resume picks the newest in-progress
    upload of the name; a mismatch of ``file_type`` or ``num_bytes`` is 409 ``upload_mismatch``.
14. Complete overwrites a same-named file (new ``file_uid``, moves to newest). Deleting or
    overwriting a name does not affect uploads in progress for it.
15. In-progress uploads live until complete, abort or emulator stop (memory only; parts on
    disk are wiped at the next start), or until ``upload_lifetime`` seconds (a day, on
    ``clock``) pass without a call on them (initiate or resume, ``parts/urls``,
    checkpoint): then they expire, their parts are deleted (an S3 multipart upload is
    aborted) and every call on them is 404 ``upload_not_found``. Presigned URLs live
    ``url_lifetime`` seconds (default 3600), whether from initiate, ``parts/urls`` (which
    always signs fresh ones) or a download redirect; ``expires_at`` is rounded down to the
    second.
16. Part PUT: ``Content-Length`` required (411 ``MissingContentLength``, also for chunked
    bodies); length other than the part's: 400; an ``Authorization`` header: 400 (S3 refuses
    two auth mechanisms); bad signature: 403 ``SignatureDoesNotMatch``; expired: 403
    ``AccessDenied``/``Request has expired``; released upload: 404 ``NoSuchUpload``; success:
    200 with ``ETag: "<md5 hex>"`` (``etag_style="opaque"``: a random 32-hex string per PUT,
    as S3 answers for SSE-KMS/SSE-C buckets). Re-PUT replaces the part. Error bodies are
    S3 XML.
17. Abort: 200 with an empty body; any request body is ignored.
18. Names: any non-empty string without control characters (NUL, CR, LF, the rest of
    U+0000-U+001F, DEL), at most 1024 characters, ``/`` allowed,
    case-sensitive. Path parameters take the whole path tail, so both URL-encoded
    (``%2F``) and raw ``/`` work; other characters must be URL-encoded by the client.
    Otherwise 400 ``invalid_parameter`` (``missing_parameter`` when absent).
19. Unknown ``file_id`` on metadata, download, delete: 404 ``file_not_found``.
20. Download: 200 ``application/octet-stream`` with ``Content-Length``, ``Accept-Ranges:
    bytes`` and ``ETag: "<file_uid>"``; one ``Range`` (``a-b``, ``a-``, ``-n``) gives 206 with
    ``Content-Range``; unsatisfiable: 416 ``range_not_satisfiable`` with ``Content-Range:
    bytes */size``; several ranges or bad syntax (digits other than ASCII ``0-9``
    included): ignored (200). ``ignore_range``: every ``Range`` is ignored (200, no
    ``Accept-Ranges``). ``redirect_downloads``: 307 with ``Location`` a presigned storage GET
    URL (signed like part URLs, no bearer key), which answers like the API download (single
    range, 416) with S3 XML errors: an ``Authorization`` header is 400 ``InvalidArgument``,
    a file deleted or overwritten since is 404 ``NoSuchKey``. Both count in ``bytes_served``.
21. ``POST /files`` and ``/files/base64``: the first part that has a filename, whatever its
    field name; type from the part's ``Content-Type`` unless absent or
    ``application/octet-stream``, then from the extension. Over ``simple_upload_limit``
    (512 MB): 413 ``invalid_file_size``. Both bodies are streamed to disk.
22. Listing: cursor form when ``limit``, ``after`` or ``before`` is given, else the shard
    array. Newest first = most recently registered (an overwrite moves a file to the
    front). Opaque cursors; ``has_more`` is true exactly when ``next_cursor`` is set
    (older files exist); ``prev_cursor`` is set when newer files exist. ``limit`` 1..1000
    (default 100); ``after`` with ``before``, bad cursor or bad limit: 400. Shards are in
    ``file_index`` order; ``shard_index=-1`` returns the first 1000. ``file_type`` filters by
    exact MIME match in both forms. ``max_page_size`` (default 1000) caps cursor pages
    silently: ``limit`` above it returns that many, with ``next_cursor`` for the rest.
23. Only completed files are listed and counted (corrupt ones included, not counted in
    ``num_ingested``). Completed files are ``FILE_STATUS_INGESTED``, ``ingested: true``,
    ``file_attributes: {"metadata_status": "not_extracted"}``; complete answers
    ``file_status: "Registered"``. ``file_index`` is the 0-based position in oldest-first
    order, so it shifts after deletions.
24. Rate limiting is off unless ``rate_limit=True``. Then one limiter per emulator (one org)
    admits authenticated API requests through two token buckets, both needing a token: one
    of ``rate_limit_per_minute`` (100) refilled at that rate per minute, one of
    ``rate_limit_burst_per_second`` (20) refilled at that rate per second. A refused request
    takes no token and gets 429 ``RATE_LIMIT_EXCEEDED`` with ``Retry-After`` in whole seconds
    (rounded up, at least 1; none with ``rate_limit_retry_after=False``); counted in
    ``stats.rate_limited``. Storage URLs and requests
    with a bad key (401) are not limited; no ``X-RateLimit-*`` headers.
25. Every error uses the ``{"errors": [...]}`` envelope (401 ``UNAUTHORIZED`` included),
    each with ``error_uid = "err-<uuid4>"``; storage errors are S3 XML.

Not in the spec (test switches, all off by default):

26. Faults (:mod:`.._shared.faults` decides, :mod:`.._shared.injection` applies) come after
    latency and before the error envelope, auth and rate limit: an injected ``status``
    answers before auth is checked. Error bodies: the envelope with a code from the status
    (503 ``service_unavailable``, 429 ``RATE_LIMIT_EXCEEDED``, 500 ``internal_error``, ...)
    on API routes, S3 XML (503 ``SlowDown``, 500 ``InternalError``, ...) on storage.
    ``reset`` resets the TCP connection (RST): after half the request body when there is one
    (the handler does not run), otherwise after half the response body (the handler ran).
    ``malformed_json``/``truncated_json``/``wrong_etag`` run the handler, then damage the
    answer. Faults are tried in the order added; every matching one counts the request (for
    ``nth``), the first that fires is applied. Note aiohttp's client retries an idempotent
    request (PUT, GET) once after a reset, so one ``reset`` may go unseen by it.
27. Shaping (:mod:`.._shared.shaping`, :mod:`.._shared.pacing`): ``latency`` is slept before
    every request. Storage PUT bodies are read in 64 KiB chunks, each waiting on a per-PUT
    pacer (``put_bandwidth``) and one shared pacer (``link_bandwidth``): virtual clocks that
    book ``len / rate`` seconds per chunk and sleep until then, banking at most 50 ms of
    idle time. Downloads are not shaped.
28. ``emu.orphans()``: the uploads still ``in_progress`` (never completed nor aborted).
"""

from .._shared.stats import EmulatorStats
from .app import build_app
from .config import EmulatorConfig
from .faults import Fault, FaultInjector, format_fault, parse_fault
from .server import ATAIEmulator, serve
from .state import UploadView

__all__ = [
    "ATAIEmulator",
    "EmulatorConfig",
    "EmulatorStats",
    "Fault",
    "FaultInjector",
    "UploadView",
    "build_app",
    "format_fault",
    "parse_fault",
    "serve",
]
