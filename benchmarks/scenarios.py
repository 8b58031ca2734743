"""The scenarios: inputs, emulator options, contenders, and how to compare them.

Sizes are the full ones; ``scale`` (``--quick``, ``--scale``) multiplies data sizes,
file counts and the large part sizes of ``large_parts`` (so the number of parts stays),
never latency, bandwidth or rate limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .datafiles import random_file, small_files
from .runner import Case

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

_FILE_COLUMNS = ("wall", "mbps", "cpu", "rss", "emu_cpu", "api", "puts", "inflight", "errors")
_MEMORY_COLUMNS = ("rss", "wall", "mbps", "cpu", "api", "puts", "errors")
_PATH_COLUMNS = ("wall", "mbps", "link", "settled", "inflight", "cpu", "rss", "api", "errors")
_WAN = {"latency": 0.03, "put_bandwidth": 16e6, "link_bandwidth": 400e6}
_WAN_QUARTER = {"latency": 0.03, "put_bandwidth": 4e6, "link_bandwidth": 100e6}
"""The WAN path at a quarter of its bandwidths: a link this machine's emulator can carry."""
_FAR = {"latency": 0.1, "put_bandwidth": 8e6, "link_bandwidth": 1e9}
_LAN = {"latency": 0.0005, "link_bandwidth": 1.25e9}


@dataclass(frozen=True)
class Plan:
    """A scenario ready to run: its data exists, its cases are fixed."""

    title: str
    emulators: dict[str, dict[str, Any]]
    """Profile name -> :class:`~atai_fs.emulator.ATAIEmulator` keyword arguments."""
    cases: tuple[Case, ...]
    columns: tuple[str, ...]
    ratio_metric: str
    baselines: tuple[str, ...]
    """Roles each case is compared with (one ratio column each)."""
    notes: tuple[str, ...] = ()
    settle_seconds: float = 0.0
    """Pause before each run (lets a rate limiter's buckets refill between contenders)."""
    max_repeat: int | None = None
    """At most this many repetitions, whatever ``--repeat`` says (``None``: no cap)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    build: Callable[[Path, float], Plan]


_LARGE_FLOOR = 24 * MiB
"""Smallest "large" file at any scale: three 8 MiB parts, so parallelism still shows."""


def _scaled(size: float, scale: float, floor: int = _LARGE_FLOOR) -> int:
    return max(floor, int(size * scale))


def _human(n: int) -> str:
    if n % MiB == 0:
        return f"{n // MiB} MiB"
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000} MB"
    return f"{n / MiB:.1f} MiB"


def _three_clients(
    path: Path,
    group: str = "",
    variants: dict[str, dict[str, Any]] | None = None,
    raw_in_flight: int = 8,
) -> tuple[Case, ...]:
    """atai_fs with defaults (and optional variants), the official client, the ceiling
    (``raw_in_flight`` PUTs at once: enough to fill the scenario's link)."""
    extra = tuple(
        Case(
            f"atai_fs fs.put_file, {label}",
            "atai_put_file",
            "atai-variant",
            {"path": str(path), "name": "variant/" + path.name, "options": options},
            group,
        )
        for label, options in (variants or {}).items()
    )
    return (
        Case(
            "atai_fs fs.put_file",
            "atai_put_file",
            "atai",
            {"path": str(path), "name": "bench/" + path.name},
            group,
        ),
        *extra,
        Case(
            "official upload(use_proxy=False)",
            "official_upload",
            "official",
            {"path": str(path)},
            group,
        ),
        Case(
            "raw aiohttp ceiling",
            "raw_put_file",
            "raw",
            {"path": str(path), "name": "raw/" + path.name, "in_flight": raw_in_flight},
            group,
        ),
    )


def large_put(workdir: Path, scale: float) -> Plan:
    size = _scaled(GiB, scale)
    path = random_file(workdir / "large.csv", size)
    return Plan(
        title=f"Large file put, loopback: {_human(size)} random, 8 MiB parts",
        emulators={"main": {"part_size": 8 * MiB}},
        cases=_three_clients(path, variants={"verify_etag=False": {"verify_etag": False}}),
        columns=_FILE_COLUMNS,
        ratio_metric="wall",
        baselines=("official", "raw"),
        notes=("source file in the page cache for every client after the first read",),
    )


def _path_put(workdir: Path, scale: float, *, size: int, shaping: dict[str, Any]) -> Plan:
    """One large file over a shaped path, every client at its defaults; the ceiling
    runs enough PUTs at once to fill the link."""
    path = random_file(workdir / "path.csv", _scaled(size, scale))
    per_put, link = shaping.get("put_bandwidth"), shaping["link_bandwidth"]
    knee = -(-int(link) // int(per_put)) if per_put else 8
    latency = f"{shaping['latency'] * 1000:g} ms latency per request"
    cap = f"{per_put / 1e6:g} MB/s per PUT, " if per_put else "no per-PUT cap, "
    return Plan(
        title=(
            f"Large file put, {latency}, {cap}{link / 1e6:g} MB/s link: "
            f"{_human(_scaled(size, scale))}, 8 MiB parts, default settings"
        ),
        emulators={"main": {"part_size": 8 * MiB, **shaping}},
        cases=_three_clients(path, raw_in_flight=knee),
        columns=_PATH_COLUMNS,
        ratio_metric="wall",
        baselines=("official", "raw"),
        notes=(
            f"emulator: {latency}, {cap}{link / 1e6:g} MB/s link shared by all PUTs",
            f"raw ceiling: {knee} PUTs at once (link / per-PUT cap)",
            "of link: MB/s over the link's bandwidth; settled at: where atai_fs's adaptive "
            "part concurrency settled (from its default start)",
        ),
    )


def wan_put(workdir: Path, scale: float) -> Plan:
    return _path_put(workdir, scale, size=512 * MiB, shaping=_WAN)


def wan_quarter_put(workdir: Path, scale: float) -> Plan:
    return _path_put(workdir, scale, size=256 * MiB, shaping=_WAN_QUARTER)


def far_put(workdir: Path, scale: float) -> Plan:
    return _path_put(workdir, scale, size=512 * MiB, shaping=_FAR)


def lan_put(workdir: Path, scale: float) -> Plan:
    return _path_put(workdir, scale, size=GiB, shaping=_LAN)


def large_parts(workdir: Path, scale: float) -> Plan:
    size = _scaled(GiB, scale)
    path = random_file(workdir / "parts.csv", size)
    part_sizes = (_scaled(64 * MiB, scale, floor=MiB), _scaled(400e6, scale, floor=MiB))
    profiles = {f"{_human(part_size)} parts": part_size for part_size in part_sizes}
    cases: list[Case] = []
    for group in profiles:  # the emulator profile and the ratio group are the part size
        atai, official, raw = _three_clients(path, group)
        cases += [
            Case(f"atai_fs fs.put_file, {group}", atai.kind, "atai", atai.params, group, group),
            Case(f"official, {group}", official.kind, "official", official.params, group, group),
            Case(f"raw ceiling, {group}", raw.kind, "raw", raw.params, group, group),
        ]
    return Plan(
        title=f"Large parts, loopback: {_human(size)} with {' and '.join(profiles)}",
        emulators={group: {"part_size": part_size} for group, part_size in profiles.items()},
        cases=tuple(cases),
        columns=_MEMORY_COLUMNS,
        ratio_metric="wall",
        baselines=("official", "raw"),
        notes=("ratios: wall time vs the official client and the raw ceiling, same part size",),
    )


def dataframe(workdir: Path, scale: float) -> Plan:
    frame_bytes = _scaled(256 * MiB, scale)
    return Plan(
        title=f"DataFrame write: parquet of ~{_human(frame_bytes)}, encoding included",
        emulators={"main": {"part_size": 8 * MiB}},
        cases=(
            Case(
                'atai_fs df.to_parquet("atai://...")',
                "atai_parquet",
                "atai",
                {"frame_bytes": frame_bytes, "name": "bench/frame.parquet"},
            ),
            Case(
                "official: to_parquet(local) + upload",
                "official_parquet",
                "official",
                {"frame_bytes": frame_bytes, "path": str(workdir / "frame-parquet.csv")},
            ),
        ),
        columns=_FILE_COLUMNS,
        ratio_metric="wall",
        baselines=("official",),
        notes=(
            "DataFrame built before the timer in both processes (4 random float64 columns)",
            "official client refuses .parquet, so its local file is named frame-parquet.csv",
        ),
    )


def small(workdir: Path, scale: float) -> Plan:
    count = _scaled(500, scale, floor=40)
    paths = small_files(workdir / "small", count, 64 * KiB)
    return Plan(
        title=f"Many small files: {count} x 64 KiB, 30 ms latency, rate limit 20 requests/s",
        emulators={
            "main": {
                "latency": 0.03,
                "rate_limit": True,
                "rate_limit_burst_per_second": 20,
                "rate_limit_per_minute": 100_000,
            }
        },
        cases=(
            Case(
                'atai_fs fs.put(paths, "atai://")',
                "atai_put_many",
                "atai",
                # Told the limit this emulator enforces (the default paces the documented
                # 100/min, which this scenario raises): pacing, not waiting, is compared.
                {"paths": paths, "name": "", "options": {"rate_limit": "20/s"}},
            ),
            Case(
                "official upload() in a loop", "official_upload_many", "official", {"paths": paths}
            ),
        ),
        columns=(
            "wall",
            "files_ok",
            "files_per_s",
            "api",
            "r429",
            "errors",
            "orphans",
            "cpu",
            "rss",
        ),
        ratio_metric="files_per_s",
        baselines=("official",),
        notes=(
            "rate limit: bursts of 20 requests/s; per-minute limit raised to 100000 (never binds)",
            "errors: atai_fs put() stops at its first failure (1); official: one per file raising",
            "files ok = files stored on the emulator; orphans = uploads left in progress",
            "both clients write the same names at the root (the official client has no prefix)",
        ),
        settle_seconds=1.5,
    )


def streaming(workdir: Path, scale: float) -> Plan:
    """Peak RSS of every write mode at every part size, adaptive concurrency on."""
    size = _scaled(GiB, scale)
    path = random_file(workdir / "stream.csv", size)
    part_sizes = (8 * MiB, _scaled(64 * MiB, scale, floor=MiB), _scaled(400e6, scale, floor=MiB))
    profiles = {f"{_human(part_size)} parts": part_size for part_size in part_sizes}
    cases: list[Case] = []
    for group in profiles:
        cases += [
            Case(
                f"fs.put_file, {group}",
                "atai_put_file",
                "put_file",
                {"path": str(path), "name": "stream/put.csv"},
                group,
                group,
            ),
            Case(
                f'fs.open(..., "wb"), {group}',
                "atai_stream",
                "open",
                {"size": size, "name": "stream/unknown.bin"},
                group,
                group,
            ),
            Case(
                f'fs.open(..., "wb", size=N), {group}',
                "atai_stream",
                "open_size",
                {"size": size, "known_size": True, "name": "stream/known.bin"},
                group,
                group,
            ),
        ]
    return Plan(
        title=(
            f"Memory: {_human(size)} by every write mode at {', '.join(profiles)} "
            "(open() fed 1 MiB at a time from a generator)"
        ),
        emulators={group: {"part_size": part_size} for group, part_size in profiles.items()},
        cases=tuple(cases),
        columns=("rss", "wall", "mbps", "settled", "inflight", "cpu", "api", "errors"),
        ratio_metric="rss",
        baselines=("put_file",),
        notes=(
            "unknown size spools to a temporary file, then uploads at close",
            "known size: each part spools (memory shared by the parts held, the rest on disk)",
            "ratio: peak RSS vs put_file at the same part size",
        ),
    )


SHARED_PROCESSES = 8
_SHARED_SMALL = 12
"""Small files per process at full size: 8 x (12 + initiate + complete) = 112 atai_fs
calls, a little over the documented 100/min, so the minute limit binds once."""


def shared_limits(workdir: Path, scale: float) -> Plan:
    small_count = max(3, round(_SHARED_SMALL * scale))
    big_size = 3 * 8 * MiB + 100  # four 8 MiB parts: never the one-request route
    work = []
    for index in range(SHARED_PROCESSES):
        paths = small_files(workdir / f"p{index}", small_count, 64 * KiB, prefix=f"p{index}-")
        paths.append(str(random_file(workdir / f"p{index}" / f"p{index}-multipart.csv", big_size)))
        work.append(paths)
    limits = {"part_size": 8 * MiB, "rate_limit": True}  # documented: 20/s bursts, 100/min
    fleet = {"work": work, "cache_dir": str(workdir)}
    per_process = f"{small_count} x 64 KiB + one {_human(big_size)} (4 parts)"
    return Plan(
        title=(
            f"Shared rate limits: {SHARED_PROCESSES} processes at once, each {per_process}, "
            "documented limits enforced (20 requests/s bursts, 100/min)"
        ),
        # One emulator (one organisation's budget) per contender, both starting full.
        emulators={"atai": dict(limits), "official": dict(limits)},
        cases=(
            Case(
                f'atai_fs fs.put(paths, "atai://") x {SHARED_PROCESSES} processes',
                "fleet",
                "atai",
                {**fleet, "worker": "atai_put_worker"},
                emulator="atai",
            ),
            Case(
                f"official upload() loop x {SHARED_PROCESSES} processes",
                "fleet",
                "official",
                {**fleet, "worker": "official_upload_worker"},
                emulator="official",
            ),
        ),
        columns=("wall", "files_ok", "api", "r429", "r429_share", "errors", "orphans"),
        ratio_metric="r429_share",
        baselines=(),
        notes=(
            f"{SHARED_PROCESSES * (small_count + 1)} files in all; processes released together "
            "once every one has built its client; wall: release to the last exit",
            "atai_fs: its defaults (limiter shared by the processes through a state file "
            "in a fresh XDG_CACHE_HOME per run); errors: processes whose put() failed",
            "official: 3 tries per API call, no backoff; errors: files whose upload raised",
            "API req: control-plane calls received, 429s included; 429 %: their share",
            "one run per contender: a second would need the minute budget to refill first",
        ),
        max_repeat=1,
    )


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("large_put", "1 GiB put over loopback: atai_fs vs official vs raw", large_put),
        Scenario("wan_put", "512 MiB over 30 ms, 16 MB/s per PUT, 400 MB/s link", wan_put),
        Scenario(
            "wan_quarter_put",
            "256 MiB over 30 ms, 4 MB/s per PUT, 100 MB/s link",
            wan_quarter_put,
        ),
        Scenario("far_put", "512 MiB over 100 ms, 8 MB/s per PUT, 1 GB/s link", far_put),
        Scenario("lan_put", "1 GiB over a fast LAN: 0.5 ms, no per-PUT cap", lan_put),
        Scenario("large_parts", "1 GiB in 64 MiB and in 400 MB parts", large_parts),
        Scenario(
            "dataframe", "df.to_parquet into atai:// vs local file + official upload", dataframe
        ),
        Scenario("small_files", "500 x 64 KiB under a rate limit", small),
        Scenario("streaming", "peak RSS of every write mode and part size", streaming),
        Scenario(
            "shared_limits", "8 processes under one organisation's rate limits", shared_limits
        ),
    )
}
