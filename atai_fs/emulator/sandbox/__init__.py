"""Emulator of the Nullspace sandbox upload-session API (``sandbox-uploads.md``).

A real ``aiohttp.web`` server on loopback serving create / status / part / complete /
abort under both ``/v1/sandboxes/{id}/uploads`` and ``/v1/machines/{id}/uploads``,
with bearer auth, ``Idempotency-Key`` replay, per-part and whole SHA-256 checks, limits,
expiry, tar extraction into a per-sandbox directory and fault injection. The vendor's
own SDK (``nullspace-sdk`` 1.0.3) can drive it.

    from atai_fs.emulator.sandbox import SandboxEmulator

    with SandboxEmulator(part_size=64 * 1024) as emu:
        emu.endpoint_url, emu.api_key     # "http://127.0.0.1:PORT", "test-key"
        emu.sessions                      # upload_id -> SessionView (.status, ...)
        emu.read_file("sb_1", "/workspace/a.bin"); emu.path_of("sb_1", "/workspace")
        emu.faults.add(route="part", action="status", status=503, nth=2)
        emu.stats.requests_by_route       # {"create": 1, "part": 3, ...}

Options (:class:`SandboxConfig`): ``api_key``, ``part_size`` (8 MiB), ``max_upload_bytes``,
``max_part_bytes``, ``max_concurrency`` (8), ``staging_quota_bytes``,
``session_lifetime`` (24 h), ``expired_retention`` (24 h), ``idempotency_ttl`` (24 h),
``sandboxes`` (ids that exist; default any well-formed id), ``roots``, ``seed``,
``faults``, ``latency``.  Fault routes: ``create``, ``status``, ``part``, ``complete``,
``abort``, ``direct`` (or ``*``); actions ``status``, ``reset``, ``slow``, ``latency``,
``malformed_json``, ``truncated_json``, with the shared triggers (``times``, ``nth``,
``probability``) and time windows (``start``, ``duration``).

CHOICES for the spec's open points (section 11); the real service may differ.

1. Staging-quota key: ``sandbox_staging_quota_bytes`` on ``/v1/sandboxes``,
   ``machine_staging_quota_bytes`` on ``/v1/machines``, never both.
2. ``part_size`` = ``min(part_size option, max_part_bytes)``; ``part_count =
   ceil(content_length / part_size)``; 0 bytes: 0 parts, complete allowed at once.
3. Defaults: ``max_upload_bytes`` 50 GiB, ``max_part_bytes`` 64 MiB, ``max_concurrency``
   8 (granted to every session and reported in ``limits``), staging quota 100 GiB per
   sandbox, sessions expire 24 h after create.
4. Status per reason as in spec section 2; ``missing_parts``, ``whole_checksum_mismatch``,
   ``target_conflict``, ``upload_already_completed`` are 409.  Other errors: 400
   ``invalid_request``, 401 ``unauthorized``, 404 ``not_found`` / ``machine_not_found``,
   429 ``rate_limit_exceeded``, 500 ``internal_error``.  Every answer has ``x-request-id``,
   echoed as ``request_id`` in error bodies.
5. ``next_part`` is the lowest part not accepted; absent when all are present and in
   terminal statuses.
6. ``created`` until the first part is accepted, ``uploading`` until every part is,
   then ``staged``; ``completing`` only while a complete runs (GET can see it).
7. Idempotency keys are scoped per sandbox and operation (``create``, or ``complete`` of
   one session) and kept ``idempotency_ttl``.  Only successful answers are stored: the
   same key with the same body replays the stored 200 body (even after the session
   moved on); a new key creates anew; the same key with another body is 409
   ``invalid_request``.  A failed request stores nothing (a retry runs again).  Requests
   with one key run one at a time.
8. Part without ``x-nullspace-part-sha256``: accepted unverified.  With it: compared
   (case-insensitive) with the received bytes; mismatch is 400 ``invalid_part_checksum``
   (retryable) and the part is not stored.
9. A replayed part replaces the stored one (last write wins).
10. ``conflict``: ``error`` -> 409 ``target_conflict`` if the target exists (file, tree or
    symlink); ``replace`` -> the existing file or tree is removed first; ``merge`` -> a
    file overwrites a file, a tree is extracted over an existing directory keeping
    unrelated entries (an entry replaces what has its name).  Merging a file over a
    directory or a tree over a file is 409 ``target_conflict``.  A parent that is a file:
    409 ``target_conflict``.
11. No whole checksum at create nor complete: published unverified.  Given at both: both
    must match.
12. Abort of a completed session: 409 ``upload_already_completed``; of an unknown or
    already aborted one: 404; of an expired one: 410 ``upload_expired``; of a failed one:
    204, and it stays ``failed``.  Aborted sessions still answer GET (``status: "aborted"``);
    parts and complete on them are 410 ``upload_aborted``.
13. Expired sessions answer GET with ``status: "expired"`` for ``expired_retention``,
    then 404; parts and complete on them are 410 ``upload_expired``.
14. ``reserved_staging_bytes`` = ``content_length`` from create until the session ends;
    the sum over a sandbox's live sessions must fit ``staging_quota_bytes`` (else 507
    ``insufficient_staging_space`` at create).  Parts beyond ``max_concurrency`` in
    flight for one session: 429 ``rate_limit_exceeded`` with ``Retry-After: 1``.
15. Tar extraction: every entry's name is checked before anything is written, then the
    tree is extracted into staging, where links are checked physically (by where they
    lead through the links already extracted, not by their text), and published only
    if every entry passed.  Absolute names, ``..`` escaping the target, names under
    ``/workspace/.nullspace`` (also through links), or an entry whose path goes through
    a link leaving the tree: ``directory_extract_invalid_path``; symlinks that are
    absolute or lead out of the tree (checked as each is extracted, and all again once
    every entry is in place), hard links to anything but an earlier file or symlink
    entry: ``directory_extract_invalid_symlink``; devices, FIFOs and other types, or
    not a tar: ``directory_extract_unsupported_entry``.  A path through a link inside the tree
    lands where the link leads, as ``tar`` does; a hard link to a symlink is that
    symlink; a directory entry replaces a file or symlink of its name.  Modes and
    mtimes of files are kept.
    Ownership (``user``) is recorded, not applied (the emulator is not root).
    ``published_bytes`` is the bytes of the file (``file``) or of the extracted regular
    files (``directory_tar``); ``published_file_count`` counts regular files.
    A failed verification or extraction moves the session to ``failed`` (terminal) and
    releases its staging.

Destinations: absolute paths under ``/workspace``, ``/data``, ``/context``, ``/tmp`` or the
session user's home (``/home/<user>``, ``/root``); relative paths resolve against the
user's home, else ``/workspace``; anything else, or ``/workspace/.nullspace``, is 400
``invalid_request``.  A destination the sandbox's own symlinks lead out of the sandbox
is 400 ``invalid_request`` at create, 409 ``target_conflict`` at complete (if the link
appeared meanwhile): no operation of the emulator reads, writes, deletes or chmods
anything outside ``DATA_DIR/sandboxes/<id>/fs`` and its own staging.  The direct route
``PUT /v1/machines/{id}/file?path=...&user=...`` (spec 4.6; SDK 1.0.3 only, so only under
``/v1/machines``) writes one file in one request and answers 204: no session, no
checksum, an existing file is overwritten (a directory in the way: 409
``target_conflict``), the same destination rules; bodies over ``max_part_bytes``: 413
``size_limit_exceeded``.  Not emulated: file info and listing, ``files/upload-url``,
volumes, rate limiting of the API as a whole.
"""

from .app import build_sandbox_app
from .config import SandboxConfig
from .faults import SandboxFault, SandboxFaultInjector, parse_sandbox_fault
from .server import SandboxEmulator, serve_sandbox
from .state import SessionView

__all__ = [
    "SandboxConfig",
    "SandboxEmulator",
    "SandboxFault",
    "SandboxFaultInjector",
    "SessionView",
    "build_sandbox_app",
    "parse_sandbox_fault",
    "serve_sandbox",
]
