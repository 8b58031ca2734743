"""Live request counters, written by the server loop and read from test threads."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, overload


class _Count:
    """One counter of :class:`EmulatorStats`, read under its lock (help() lists each with
    its meaning)."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, stats: None, owner: type) -> _Count: ...
    @overload
    def __get__(self, stats: EmulatorStats, owner: type) -> int: ...
    def __get__(self, stats: EmulatorStats | None, owner: type) -> int | _Count:
        if stats is None:
            return self
        with stats._lock:
            return stats._counts[self.name]

    def __set__(self, stats: EmulatorStats, value: int) -> None:
        raise AttributeError(f"{self.name} is counted by the emulator, not set")


class EmulatorStats:
    """Thread-safe counters of what clients did (every emulator has the same ones; each
    counts what its API does)."""

    api_requests = _Count("Every request under the API prefix, including rejected ones.")
    part_puts = _Count("Storage PUTs that stored a part (answered 200).")
    puts_in_flight = _Count("Storage PUTs being received now.")
    max_puts_in_flight = _Count("Most storage PUTs received at once.")
    bytes_received = _Count("Part bytes stored by storage PUTs.")
    bytes_served = _Count(
        "Download bytes sent, by the API or through a redirect to a presigned storage GET."
    )
    rate_limited = _Count("Requests answered 429 by the rate limiter.")
    checksums_verified = _Count("Completes whose whole-file checksum was checked and matched.")
    files_published = _Count("Files registered (by a complete or a simple upload).")

    _NAMES = (
        "api_requests",
        "part_puts",
        "puts_in_flight",
        "max_puts_in_flight",
        "bytes_received",
        "bytes_served",
        "rate_limited",
        "checksums_verified",
        "files_published",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self._NAMES, 0)
        self._by_route: Counter[str] = Counter()

    # -- writers (server side) ---------------------------------------------------------
    def count_request(self, route: str | None, *, api: bool) -> None:
        """One request of ``route`` (every attempt counts, failed or not)."""
        with self._lock:
            if api:
                self._counts["api_requests"] += 1
            if route:
                self._by_route[route] += 1

    def put_started(self) -> None:
        with self._lock:
            counts = self._counts
            counts["puts_in_flight"] += 1
            counts["max_puts_in_flight"] = max(
                counts["max_puts_in_flight"], counts["puts_in_flight"]
            )

    def put_finished(self, *, stored_bytes: int | None) -> None:
        """End of one storage PUT; ``stored_bytes`` is None when it failed."""
        with self._lock:
            self._counts["puts_in_flight"] -= 1
            if stored_bytes is not None:
                self._counts["part_puts"] += 1
                self._counts["bytes_received"] += stored_bytes

    def add_bytes_served(self, n: int) -> None:
        self._add("bytes_served", n)

    def count_rate_limited(self) -> None:
        self._add("rate_limited")

    def count_checksum_verified(self) -> None:
        self._add("checksums_verified")

    def count_file_published(self) -> None:
        self._add("files_published")

    def _add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    # -- readers (any thread) ----------------------------------------------------------
    @property
    def requests_by_route(self) -> dict[str, int]:
        """Route name -> requests (``initiate``, ``storage_put``, ...). A copy: counters
        keep moving, the copy does not."""
        with self._lock:
            return dict(self._by_route)

    def snapshot(self) -> dict[str, Any]:
        """All counters at one instant."""
        with self._lock:
            return {
                "api_requests": self._counts["api_requests"],
                "requests_by_route": dict(self._by_route),
                **{name: self._counts[name] for name in self._NAMES[1:]},
            }

    def reset(self) -> None:
        """Zero the counters; PUTs still running stay counted in ``puts_in_flight``."""
        with self._lock:
            in_flight = self._counts["puts_in_flight"]
            self._counts = dict.fromkeys(self._NAMES, 0)
            self._counts["puts_in_flight"] = self._counts["max_puts_in_flight"] = in_flight
            self._by_route.clear()

    def __repr__(self) -> str:
        return f"EmulatorStats({self.snapshot()})"
