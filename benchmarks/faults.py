"""Reliability under injected faults: a fault matrix and a seeded soak, with figures.

The promise under test: whatever the network and the server do, a file is either
published complete and byte-identical, or not at all, and the user gets a clear error.

``python -m benchmarks.faults [--seed N] [--uploads N]`` runs every case of
:func:`fault_matrix` (one emulator each) and a :func:`run_soak`, prints a short table and
writes ``benchmarks/results/faults.json``. ``tests/reliability`` runs the same cases under
pytest, so the figures and the tests cannot drift apart.

Each case is checked the same way (:func:`run_case`): either the call succeeded and the
stored bytes equal what was written, or it raised an :class:`~atai_fs.AtaiFsError` with
a message, nothing was published and the upload was aborted (or, for a resumable
``put_file``, left in progress on purpose, named by the error, and a second ``put_file``
finishes it). Never an orphan upload, never a spool file left open.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atai_fs import (
    ATAIFileSystem,
    AtaiFsError,
    AuthError,
    InvalidRequest,
    NotFound,
    ProtocolError,
    RateLimited,
    RequestFailed,
    RetryPolicy,
    UploadFailed,
)
from atai_fs.emulator import ATAIEmulator, Fault, format_fault

__all__ = [
    "FAST_RETRY",
    "PART_SIZE",
    "Case",
    "Outcome",
    "fault_matrix",
    "main",
    "run_case",
    "run_soak",
]

#: Small parts keep "several parts" cheap while exercising the same code paths.
PART_SIZE = 64 * 1024
#: A few parts and a short tail: four part PUTs per write.
FILE_SIZE = 3 * PART_SIZE + 100
#: Four tries, short waits: a permanent fault fails in well under a second.
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)

SURVIVE, FAIL = "survived", "failed cleanly"
VIOLATION = "violated the promise"

WRITE_MODES = ("unknown_size", "known_size", "put_file", "put_file_no_resume")
READ_MODES = ("cat_file", "get_file", "open_rb")
WRITE_ROUTES = {
    "unknown_size": ("initiate", "storage_put", "complete"),
    "known_size": ("initiate", "storage_put", "complete"),
    "put_file": ("initiate", "storage_put", "checkpoint", "complete"),
    "put_file_no_resume": ("initiate", "storage_put", "complete"),
}
#: The soak's faults are independent per request, so a part may meet several in a row;
#: eight tries make exhausting them (about 0.2**8 per part) practically impossible.
SOAK_RETRY = RetryPolicy(attempts=8, base_delay=0.01, max_delay=0.05)
RETRYABLE_STATUSES = (500, 502, 503, 504, 408, 429)
#: Short enough for a fast matrix, long enough to see that it was waited for.
RETRY_AFTER = 0.2


@dataclass(frozen=True)
class Case:
    """One fault against one operation, and the outcome the promise requires."""

    mode: str
    fault: Fault
    expect: str
    #: A failure must be an instance of this (the cause's, for a resumable put_file).
    error: type[BaseException] = AtaiFsError
    #: Emulator options beyond part size and seed, as (name, value) pairs.
    emulator_options: tuple[tuple[str, Any], ...] = ()
    #: The answer to initiate was lost: the client cannot know the upload it created.
    initiate_answer_lost: bool = False
    #: Client options beyond the matrix's own, as (name, value) pairs.
    client_options: tuple[tuple[str, Any], ...] = ()

    @property
    def id(self) -> str:
        fault = format_fault(self.fault).replace("route=", "").replace("action=", "")
        extra = "".join(f",{k}" for k, _ in self.emulator_options)
        extra += "".join(f",{k}={v}" for k, v in self.client_options)
        return f"{self.mode}:{fault}{extra}"

    @property
    def is_read(self) -> bool:
        return self.mode in READ_MODES


@dataclass
class Outcome:
    """What one case (or one soak upload) did, and every broken invariant."""

    name: str
    result: str
    error: str | None = None
    violations: list[str] = field(default_factory=list)
    faults_fired: int = 0
    bytes_verified: int = 0
    left_resumable: bool = False
    seconds: float = 0.0
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    def problems(self, case: Case) -> list[str]:
        """Violations, plus a wrong outcome for the case (empty when all is as required)."""
        found = list(self.violations)
        if self.faults_fired == 0:
            found.append("the fault never fired: the case tested nothing")
        if self.result != VIOLATION and self.result != case.expect:
            found.append(f"expected the call to have {case.expect}, it {self.result}: {self.error}")
        if case.fault.retry_after is not None and self.seconds < float(case.fault.retry_after):
            found.append(
                f"Retry-After {case.fault.retry_after}s not honoured ({self.seconds:.3f}s)"
            )
        return found


# -- the matrix ------------------------------------------------------------------------------


def fault_matrix() -> list[Case]:
    """Every fault kind crossed with every write mode, and the read faults with reads."""
    cases: list[Case] = []
    for mode in WRITE_MODES:
        for route in WRITE_ROUTES[mode]:
            cases += _common_cases(mode, route)
            if route == "storage_put":
                cases += _storage_put_cases(mode)
            else:
                cases += _json_answer_cases(mode, route)
    for mode in READ_MODES:
        cases += _common_cases(mode, "download")
        redirected = (("redirect_downloads", True),)
        cases += [
            Case(
                mode,
                Fault("storage_get", "expire_url", times=1),
                SURVIVE,
                emulator_options=redirected,
            ),
            Case(mode, Fault("storage_get", "expire_url"), FAIL, AuthError, redirected),
        ]
    return cases


def _common_cases(mode: str, route: str) -> list[Case]:
    """Statuses, resets, slowness: faults every route can suffer."""
    cases = []
    for status in RETRYABLE_STATUSES:
        permanent_error = RateLimited if status == 429 else RequestFailed
        cases.append(Case(mode, Fault(route, status=status, times=1), SURVIVE))
        cases.append(Case(mode, Fault(route, status=status), FAIL, permanent_error))
        if status in (429, 503):
            cases.append(
                Case(mode, Fault(route, status=status, times=1, retry_after=RETRY_AFTER), SURVIVE)
            )
    if route == "storage_put":
        cases.append(Case(mode, Fault(route, status=503, nth=2), SURVIVE))
    # aiohttp silently retries an idempotent request once after a reset: two to be seen.
    cases.append(Case(mode, Fault(route, "reset", times=2), SURVIVE))
    cases.append(Case(mode, Fault(route, "reset"), FAIL, RequestFailed))
    cases.append(Case(mode, Fault(route, "slow", delay=0.2, times=1), SURVIVE))
    cases.append(Case(mode, Fault(route, "latency", delay=0.2, times=1), SURVIVE))
    # Client errors are not retried: even once is final...
    cases.append(Case(mode, Fault(route, status=400, times=1), FAIL, InvalidRequest))
    cases.append(Case(mode, Fault(route, status=404, times=1), FAIL, NotFound))
    if route == "storage_put":
        # ...except a 403 from storage, which S3 means as "URL expired": refreshed, resent.
        cases.append(Case(mode, Fault(route, status=403, times=1), SURVIVE))
        cases.append(Case(mode, Fault(route, status=403), FAIL, AuthError))
    else:
        cases.append(Case(mode, Fault(route, status=403, times=1), FAIL, AuthError))
    return cases


def _storage_put_cases(mode: str) -> list[Case]:
    return [
        Case(mode, Fault("storage_put", "expire_url", times=1), SURVIVE),
        Case(mode, Fault("storage_put", "expire_url"), FAIL, AuthError),
        Case(mode, Fault("storage_put", "wrong_etag", times=1), SURVIVE),
        # Every ETag wrong: strict checking resends until it gives up...
        Case(
            mode,
            Fault("storage_put", "wrong_etag"),
            FAIL,
            UploadFailed,
            client_options=(("verify_etag", True),),
        ),
        # ...while "auto" takes them for opaque ETags, and the API refuses the tokens.
        Case(mode, Fault("storage_put", "wrong_etag"), FAIL, InvalidRequest),
    ]


def _json_answer_cases(mode: str, route: str) -> list[Case]:
    """A damaged 200 answer: the server did the work, the client cannot read the reply."""
    cases = []
    for action in ("malformed_json", "truncated_json"):
        if route == "initiate":
            # The client never learns the upload id; it must fail clearly (and cannot
            # abort what it cannot name: an orphan it is excused for).
            for fault in (Fault(route, action, times=1), Fault(route, action)):
                cases.append(Case(mode, fault, FAIL, ProtocolError, initiate_answer_lost=True))
        else:
            # Checkpoint and complete did their work: a client that looks again finds
            # the parts saved or the file published, and must not report a failure
            # for a file that was published.
            cases.append(Case(mode, Fault(route, action, times=1), SURVIVE))
    return cases


# -- running one case ------------------------------------------------------------------------


def make_filesystem(emulator: ATAIEmulator, work: Path, **options: Any) -> ATAIFileSystem:
    """A client with fast retries, a small on-disk spool and its own resume records."""
    settings: dict[str, Any] = {
        "api_key": emulator.api_key,
        "endpoint_url": emulator.endpoint_url,
        "retry": FAST_RETRY,
        "rate_limit": False,
        "spool_threshold": 4096,
        "spool_dir": str(work / "spool"),
        "resume_dir": str(work / "resume"),
        "checkpoint_parts": 2,
        "skip_instance_cache": True,
    }
    settings.update(options)
    (work / "spool").mkdir(parents=True, exist_ok=True)
    return ATAIFileSystem(**settings)


def run_case(case: Case, work: Path, seed: int = 0, profile: str = "default") -> Outcome:
    """Run one case on a fresh emulator (of the given profile) and check every invariant."""
    work.mkdir(parents=True, exist_ok=True)
    data = random.Random(f"{seed}:{case.id}").randbytes(FILE_SIZE)
    name = f"cases/{case.mode}.bin"
    options = dict(case.emulator_options)
    with ATAIEmulator(
        data_dir=work / "emulator", part_size=PART_SIZE, seed=seed, profile=profile, **options
    ) as emu:
        fs = make_filesystem(emu, work, **dict(case.client_options))
        try:
            if case.is_read:
                fs.pipe_file(name, data)  # before the fault: only the read suffers it
            emu.faults.add(case.fault)
            started = time.monotonic()
            if case.is_read:
                outcome = _read_and_check(fs, emu, case.mode, name, data, work)
            else:
                outcome = write_and_check(
                    fs, emu, case.mode, name, data, work, answer_lost=case.initiate_answer_lost
                )
            outcome.seconds = time.monotonic() - started
            outcome.faults_fired = emu.faults.total_fired
            expected = case.error
            if outcome.result == FAIL and outcome.exception is not None:
                cause = outcome.exception
                if outcome.left_resumable and cause.__cause__ is not None:
                    cause = cause.__cause__
                if not isinstance(cause, expected):
                    outcome.violations.append(
                        f"expected {expected.__name__}, got {type(cause).__name__}: {cause}"
                    )
            if outcome.left_resumable:
                emu.faults.clear()
                outcome.violations += _resume(fs, emu, name, data, work)
            outcome.violations += _leftovers(emu, work, excuse_orphans=case.initiate_answer_lost)
        finally:
            fs.http.close_all_sync()
    outcome.name = case.id
    return outcome


def write_and_check(
    fs: ATAIFileSystem,
    emu: ATAIEmulator,
    mode: str,
    name: str,
    data: bytes,
    work: Path,
    *,
    answer_lost: bool = False,
) -> Outcome:
    """Write ``data`` to ``name`` in ``mode``; check stored bytes or a clean failure.

    ``answer_lost``: the answer to initiate was damaged, so an upload the client never
    heard of may stay in progress (nothing can abort it without its id).
    """
    try:
        _write(fs, mode, name, data, work)
    except Exception as exc:
        return _check_failure(emu, mode, name, exc, answer_lost=answer_lost)
    return _check_stored(emu, name, data)


def _write(fs: ATAIFileSystem, mode: str, name: str, data: bytes, work: Path) -> None:
    if mode in ("put_file", "put_file_no_resume"):
        local = work / "local" / name
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        fs.put_file(str(local), name, resume=mode == "put_file")
        return
    size = len(data) if mode == "known_size" else None
    with fs.open(name, "wb", size=size) as f:
        for start in range(0, len(data), 16 * 1024):  # a writer streaming pieces
            f.write(data[start : start + 16 * 1024])


def _read_and_check(
    fs: ATAIFileSystem, emu: ATAIEmulator, mode: str, name: str, data: bytes, work: Path
) -> Outcome:
    target = work / "downloads" / "copy.bin"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if mode == "cat_file":
            got = fs.cat_file(name)
        elif mode == "get_file":
            fs.get_file(name, str(target))
            got = target.read_bytes()
        else:
            with fs.open(name, "rb") as f:
                got = f.read()
    except Exception as exc:
        outcome = Outcome(name, FAIL, error=_describe(exc))
        outcome.exception = exc
        outcome.violations += _error_problems(exc)
        if list(target.parent.iterdir()):
            outcome.violations.append(f"a failed download left {list(target.parent.iterdir())}")
        return outcome
    outcome = Outcome(name, SURVIVE)
    if got != data:
        outcome.result = VIOLATION
        outcome.violations.append(f"read {len(got)} bytes that differ from the {len(data)} stored")
    else:
        outcome.bytes_verified = len(got)
    return outcome


def _check_stored(emu: ATAIEmulator, name: str, data: bytes) -> Outcome:
    outcome = Outcome(name, SURVIVE)
    stored = stored_bytes(emu, name)
    if stored is None:
        outcome.result = VIOLATION
        outcome.violations.append("the call succeeded but nothing was published")
    elif stored != data:
        outcome.result = VIOLATION
        outcome.violations.append(
            f"published {len(stored)} bytes that differ from the {len(data)} written"
        )
    else:
        outcome.bytes_verified = len(data)
    return outcome


def _check_failure(
    emu: ATAIEmulator, mode: str, name: str, exc: Exception, *, answer_lost: bool = False
) -> Outcome:
    outcome = Outcome(name, FAIL, error=_describe(exc))
    outcome.exception = exc
    outcome.violations += _error_problems(exc)
    if name in stored_names(emu):
        outcome.result = VIOLATION
        outcome.violations.append(f"the call raised {type(exc).__name__} but {name} was published")
    resumable = mode == "put_file" and isinstance(exc, UploadFailed) and exc.upload_id is not None
    for upload_id, upload in emu.uploads.items():
        if upload.filename != name or upload.state == "aborted":
            continue
        if (
            upload.state == "in_progress"
            and answer_lost
            and getattr(exc, "upload_id", None) is None
        ):
            continue
        if upload.state == "in_progress" and resumable and upload_id == exc.upload_id:
            outcome.left_resumable = True
            if "put_file again" not in str(exc):
                outcome.violations.append(f"a resumable failure must say how to resume: {exc}")
        elif upload.state == "in_progress" and mode == "put_file" and not resumable:
            outcome.violations.append(
                f"upload {upload_id} left in progress, but the error names none"
            )
        elif upload.state != "in_progress" or mode != "put_file":
            outcome.violations.append(f"upload {upload_id} of a failed write is {upload.state!r}")
    return outcome


def _error_problems(exc: BaseException) -> list[str]:
    if not isinstance(exc, AtaiFsError):
        return [f"raised a bare {type(exc).__module__}.{type(exc).__name__}: {exc!r}"]
    if not str(exc).strip():
        return [f"raised {type(exc).__name__} with an empty message"]
    return []


#: The rerun of a put_file left resumable: the faults are gone, but not the rate-limit
#: budget the failed run spent (the strict profile's 20 requests/s), so it is as patient
#: as a user's rerun would be (with much less time to spend).
RERUN_RETRY = RetryPolicy(deadline=20.0, base_delay=0.05, max_delay=1.0)


def _resume(fs: ATAIFileSystem, emu: ATAIEmulator, name: str, data: bytes, work: Path) -> list[str]:
    """A put_file left resumable must finish when run again (faults gone)."""
    options = {**fs.storage_options, "retry": RERUN_RETRY, "skip_instance_cache": True}
    rerun = ATAIFileSystem(**options)
    try:
        _write(rerun, "put_file", name, data, work)
    except Exception as exc:
        return [f"running put_file again did not resume: {_describe(exc)}"]
    if stored_bytes(emu, name) != data:
        return ["the resumed put_file published different bytes"]
    return []


def _leftovers(emu: ATAIEmulator, work: Path, *, excuse_orphans: bool = False) -> list[str]:
    """Orphan uploads and spool files still open or on disk."""
    found = []
    if not excuse_orphans and emu.orphans():
        found.append(f"orphan uploads: {emu.orphans()}")
    spool = work / "spool"
    if spool_files_open(spool):
        found.append(f"spool files left open: {spool_files_open(spool)}")
    if spool.exists() and list(spool.iterdir()):
        found.append(f"spool files left on disk: {list(spool.iterdir())}")
    return found


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# -- looking at the emulator from outside the client -------------------------------------------


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """Hand redirects back: urllib would follow them with the API key, which storage
    refuses (one auth mechanism per request, as S3)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(emu: ATAIEmulator, path: str) -> bytes:
    """GET ``path`` of the API as a plain HTTP client; an emulator enforcing the rate
    limit is waited for (a second at a time, a minute at most: its quota refills)."""
    request = urllib.request.Request(
        f"{emu.endpoint_url}{path}", headers={"Authorization": f"Bearer {emu.api_key}"}
    )
    for attempt in range(61):
        try:
            with urllib.request.build_opener(_KeepRedirects).open(request, timeout=30) as answer:
                return bytes(answer.read())
        except urllib.error.HTTPError as refused:
            if refused.code == 429 and attempt < 60:
                time.sleep(1.0)
                continue
            if refused.code not in (301, 302, 303, 307, 308):
                raise
            location = refused.headers["Location"]
            break
    with urllib.request.urlopen(location, timeout=30) as response:  # a presigned URL
        return bytes(response.read())


def download(emu: ATAIEmulator, name: str) -> bytes:
    """The bytes of ``name`` over plain HTTP (not the client), following a download
    redirect to storage without the key."""
    return _get(emu, f"/files/download/{urllib.parse.quote(name, safe='')}")


def stored_bytes(emu: ATAIEmulator, name: str) -> bytes | None:
    """The published bytes of ``name`` (over plain HTTP, not the client), or None."""
    if name not in stored_names(emu):
        return None
    return download(emu, name)


def stored_names(emu: ATAIEmulator) -> set[str]:
    """Every file name the emulator lists."""
    names: set[str] = set()
    query = "/files/metadata?limit=1000"
    while True:
        page = json.loads(_get(emu, query))
        names.update(item["file_id"] for item in page["data"])
        if not page.get("has_more"):
            return names
        query = (
            f"/files/metadata?limit=1000&after={urllib.parse.quote(page['next_cursor'], safe='')}"
        )


def spool_files_open(directory: Path) -> list[str]:
    """Files under ``directory`` this process still holds open (unlinked ones included)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            found.append(target)
    return found


# -- the soak ------------------------------------------------------------------------------

#: Probabilistic faults active during the soak: retryable trouble on every write route,
#: and a rare final refusal so that clean failures (and resumes) happen too.
SOAK_FAULTS = (
    Fault("storage_put", status=400, probability=0.01),
    Fault("initiate", status=400, probability=0.02),
    Fault("storage_put", status=503, probability=0.08),
    Fault("storage_put", "reset", probability=0.04),
    Fault("storage_put", "wrong_etag", probability=0.04),
    Fault("storage_put", "expire_url", probability=0.03),
    Fault("storage_put", "slow", delay=0.1, probability=0.03),
    Fault("initiate", status=503, probability=0.08),
    Fault("initiate", status=429, retry_after=0.05, probability=0.04),
    Fault("checkpoint", status=502, probability=0.08),
    Fault("complete", status=503, probability=0.08),
    Fault("complete", "reset", probability=0.04),
    Fault("complete", "truncated_json", probability=0.03),
    Fault("abort", status=500, probability=0.05),
)


def run_soak(work: Path, *, seed: int = 0, uploads: int = 60, batch: int = 6) -> dict[str, Any]:
    """``uploads`` writes of mixed modes and sizes through one filesystem, ``batch`` at a
    time, under :data:`SOAK_FAULTS`; returns the summary (``outcomes`` lists each upload)."""
    rng = random.Random(seed)
    sizes = [0, 1, PART_SIZE - 1, PART_SIZE, PART_SIZE + 1, 10 * PART_SIZE]
    plan = []
    for index in range(uploads):
        mode = WRITE_MODES[index % len(WRITE_MODES)]
        size = rng.choice(sizes) if rng.random() < 0.4 else rng.randrange(10 * PART_SIZE)
        plan.append((f"soak/{index:03d}-{mode}.bin", mode, rng.randbytes(size)))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with ATAIEmulator(
        data_dir=work / "emulator", part_size=PART_SIZE, seed=seed, faults=SOAK_FAULTS
    ) as emu:
        fs = make_filesystem(emu, work, retry=SOAK_RETRY)
        try:

            def upload(job: tuple[str, str, bytes]) -> Outcome:
                name, mode, data = job
                return write_and_check(fs, emu, mode, name, data, work / mode)

            with concurrent.futures.ThreadPoolExecutor(batch) as pool:
                outcomes = list(pool.map(upload, plan))
            fired = emu.faults.total_fired
            for (name, _, data), outcome in zip(plan, outcomes, strict=True):
                outcome.name = name
                if outcome.left_resumable:
                    emu.faults.clear()
                    outcome.violations += _resume(fs, emu, name, data, work / "put_file")
                outcome.violations = [f"{name}: {v}" for v in outcome.violations]
            violations = _leftovers(emu, work)
            orphans = len(emu.orphans())
        finally:
            fs.http.close_all_sync()
    survived = [o for o in outcomes if o.result == SURVIVE]
    failed = [o for o in outcomes if o.result == FAIL]
    return {
        "seed": seed,
        "uploads": uploads,
        "faults_injected": fired,
        "survived": len(survived),
        "failed_cleanly": len(failed),
        "left_resumable_then_resumed": sum(o.left_resumable for o in outcomes),
        "violations": [v for o in outcomes for v in o.violations] + violations,
        "bytes_written": sum(len(data) for _, _, data in plan),
        "bytes_verified": sum(o.bytes_verified for o in outcomes),
        "orphans": orphans,
        "temp_files_left": len(spool_files_open(work / "spool")),
        "wall_seconds": round(time.monotonic() - started, 2),
        "outcomes": outcomes,
    }


# -- the figures ------------------------------------------------------------------------------


def run_matrix(work: Path, *, seed: int = 0, workers: int = 2) -> list[tuple[Case, Outcome]]:
    """Every case of :func:`fault_matrix`, ``workers`` at a time (each its own emulator)."""
    cases = fault_matrix()

    def one(item: tuple[int, Case]) -> tuple[Case, Outcome]:
        index, case = item
        return case, run_case(case, work / f"case-{index:04d}", seed=seed)

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, enumerate(cases)))


def _matrix_summary(results: list[tuple[Case, Outcome]], seconds: float) -> dict[str, Any]:
    return {
        "cases": len(results),
        "faults_injected": sum(o.faults_fired for _, o in results),
        "survived": sum(o.result == SURVIVE for _, o in results),
        "failed_cleanly": sum(o.result == FAIL for _, o in results),
        "left_resumable_then_resumed": sum(o.left_resumable for _, o in results),
        "bytes_verified": sum(o.bytes_verified for _, o in results),
        "not_as_expected": {c.id: o.problems(c) for c, o in results if o.problems(c)},
        "orphans": sum(any("orphan" in p for p in o.violations) for _, o in results),
        "temp_files_left": sum(any("spool" in p for p in o.violations) for _, o in results),
        "wall_seconds": round(seconds, 2),
    }


def _table(matrix: dict[str, Any], soak: dict[str, Any]) -> str:
    rows = [
        ("faults injected", "faults_injected"),
        ("uploads/reads survived", "survived"),
        ("clean failures", "failed_cleanly"),
        ("  of which resumed by put_file", "left_resumable_then_resumed"),
        ("bytes verified", "bytes_verified"),
        ("orphans", "orphans"),
        ("temp files left", "temp_files_left"),
        ("wall time (s)", "wall_seconds"),
    ]
    lines = [f"{'':34}{'fault matrix':>14}{'soak':>14}"]
    lines.append(f"{'cases / uploads':34}{matrix['cases']:>14}{soak['uploads']:>14}")
    for label, key in rows:
        lines.append(f"{label:34}{matrix[key]!s:>14}{soak[key]!s:>14}")
    not_expected = len(matrix["not_as_expected"])
    lines.append(
        f"{'not as expected / violations':34}{not_expected:>14}{len(soak['violations']):>14}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seed", type=int, default=0, help="emulator fault RNG and data seed")
    parser.add_argument("--uploads", type=int, default=60, help="uploads in the soak")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "faults.json"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="atai-faults-") as tmp:
        started = time.monotonic()
        results = run_matrix(Path(tmp) / "matrix", seed=args.seed)
        matrix = _matrix_summary(results, time.monotonic() - started)
        soak = run_soak(Path(tmp) / "soak", seed=args.seed, uploads=args.uploads)
    soak_json = {k: v for k, v in soak.items() if k != "outcomes"}
    soak_json["failures"] = {o.name: o.error for o in soak["outcomes"] if o.result == FAIL}
    print(_table(matrix, soak))
    for case_id, problems in matrix["not_as_expected"].items():
        print(f"  {case_id}: {'; '.join(problems)}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"matrix": matrix, "soak": soak_json}, indent=2) + "\n")


if __name__ == "__main__":
    main()
