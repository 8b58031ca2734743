"""Live request counters, written by the server loop and read from test threads."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class EmulatorStats:
    """Thread-safe counters of what clients did.

    - ``api_requests``: every request under the API prefix, including rejected ones.
    - ``requests_by_route``: route name -> count (``initiate``, ``parts_urls``, ``checkpoint``,
      ``complete``, ``abort``, ``metadata_list``, ``metadata_get``, ``download``, ``delete``,
      ``info``, ``simple_upload``, ``storage_put``); every attempt counts, failed or not.
    - ``part_puts``: storage PUTs that stored a part (answered 200).
    - ``puts_in_flight`` / ``max_puts_in_flight``: storage PUTs being received now / at peak.
    - ``bytes_received``: part bytes stored by storage PUTs; ``bytes_served``: download bytes
      sent, by the API or through a redirect to a presigned storage GET.
    - ``rate_limited``: requests answered 429 by the rate limiter.
    - ``checksums_verified``: completes whose ``integrity_checksum`` was checked and matched.
    - ``files_published``: files registered (by a complete or a simple upload).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api_requests = 0
        self._by_route: Counter[str] = Counter()
        self._part_puts = 0
        self._puts_in_flight = 0
        self._max_puts_in_flight = 0
        self._bytes_received = 0
        self._bytes_served = 0
        self._rate_limited = 0
        self._checksums_verified = 0
        self._files_published = 0

    # -- writers (server side) ---------------------------------------------------------
    def count_request(self, route: str | None, *, api: bool) -> None:
        with self._lock:
            if api:
                self._api_requests += 1
            if route:
                self._by_route[route] += 1

    def put_started(self) -> None:
        with self._lock:
            self._puts_in_flight += 1
            self._max_puts_in_flight = max(self._max_puts_in_flight, self._puts_in_flight)

    def put_finished(self, *, stored_bytes: int | None) -> None:
        """End of one storage PUT; ``stored_bytes`` is None when it failed."""
        with self._lock:
            self._puts_in_flight -= 1
            if stored_bytes is not None:
                self._part_puts += 1
                self._bytes_received += stored_bytes

    def add_bytes_served(self, n: int) -> None:
        with self._lock:
            self._bytes_served += n

    def count_rate_limited(self) -> None:
        with self._lock:
            self._rate_limited += 1

    def count_checksum_verified(self) -> None:
        with self._lock:
            self._checksums_verified += 1

    def count_file_published(self) -> None:
        with self._lock:
            self._files_published += 1

    # -- readers (any thread) ----------------------------------------------------------
    @property
    def api_requests(self) -> int:
        with self._lock:
            return self._api_requests

    @property
    def requests_by_route(self) -> dict[str, int]:
        """A copy: counters keep moving, the copy does not."""
        with self._lock:
            return dict(self._by_route)

    @property
    def part_puts(self) -> int:
        with self._lock:
            return self._part_puts

    @property
    def puts_in_flight(self) -> int:
        with self._lock:
            return self._puts_in_flight

    @property
    def max_puts_in_flight(self) -> int:
        with self._lock:
            return self._max_puts_in_flight

    @property
    def bytes_received(self) -> int:
        with self._lock:
            return self._bytes_received

    @property
    def bytes_served(self) -> int:
        with self._lock:
            return self._bytes_served

    @property
    def rate_limited(self) -> int:
        with self._lock:
            return self._rate_limited

    @property
    def checksums_verified(self) -> int:
        with self._lock:
            return self._checksums_verified

    @property
    def files_published(self) -> int:
        with self._lock:
            return self._files_published

    def snapshot(self) -> dict[str, Any]:
        """All counters at one instant."""
        with self._lock:
            return {
                "api_requests": self._api_requests,
                "requests_by_route": dict(self._by_route),
                "part_puts": self._part_puts,
                "puts_in_flight": self._puts_in_flight,
                "max_puts_in_flight": self._max_puts_in_flight,
                "bytes_received": self._bytes_received,
                "bytes_served": self._bytes_served,
                "rate_limited": self._rate_limited,
                "checksums_verified": self._checksums_verified,
                "files_published": self._files_published,
            }

    def reset(self) -> None:
        """Zero the counters; PUTs still running stay counted in ``puts_in_flight``."""
        with self._lock:
            self._api_requests = 0
            self._by_route.clear()
            self._part_puts = 0
            self._max_puts_in_flight = self._puts_in_flight
            self._bytes_received = 0
            self._bytes_served = 0
            self._rate_limited = 0
            self._checksums_verified = 0
            self._files_published = 0

    def __repr__(self) -> str:
        return f"EmulatorStats({self.snapshot()})"
