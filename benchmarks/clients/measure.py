"""What a client process measures about itself: the stopwatch and its one-line report."""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

_MAX_MESSAGES = 5


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Outcome:
    """What a client did: bytes it meant to send, operations that failed and why."""

    bytes: int = 0
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """More fields for the JSON line (e.g. a fleet's per-process reports)."""

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.error_messages) < _MAX_MESSAGES:
            self.error_messages.append(f"{type(exc).__name__}: {exc}"[:300])


class Stopwatch:
    """Wall and CPU time of the one section a client wraps in ``with stopwatch:``."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self._started: tuple[float, float] | None = None

    def __enter__(self) -> Stopwatch:
        self._started = (time.perf_counter(), _cpu())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._started is not None
        wall, cpu = self._started
        self.wall = time.perf_counter() - wall
        self.cpu = _cpu() - cpu


def peak_rss() -> int:
    """Peak resident set of this process, bytes (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the parent's high-water mark across fork and exec,
    so a 10 MiB child of a 200 MiB harness would report 200 MiB there.
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def report(outcome: Outcome, stopwatch: Stopwatch) -> dict[str, Any]:
    """The client's JSON line; CPU and peak RSS cover the whole process, imports included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall": stopwatch.wall,
        "bytes": outcome.bytes,
        "cpu": usage.ru_utime + usage.ru_stime,
        "cpu_timed": stopwatch.cpu,
        "rss": peak_rss(),
        "ru_maxrss": usage.ru_maxrss * 1024,  # KiB on Linux; includes the parent's, see peak_rss
        "errors": outcome.errors,
        "error_messages": outcome.error_messages,
        **outcome.extra,
    }


def print_report(outcome: Outcome, stopwatch: Stopwatch) -> None:
    print(json.dumps(report(outcome, stopwatch)), flush=True)
