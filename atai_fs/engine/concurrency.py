"""How many part PUTs a filesystem runs at once: found while uploading, never guessed.

Across a WAN a single TCP path is capped by latency and window, so the number of parts
in flight decides the speed, and the right number depends on the path: 8 fills a link
of eight 16 MB/s paths, a 10 Gbit/s link of them needs 80, a busy store wants fewer.
:class:`PartConcurrency` is one per filesystem (per event loop), shared by every upload
of it, and moves its limit between 1 and the cap (``max_concurrency``) by this rule:

**What is measured.**  Each part, once sent, gives one sample: its bytes over the time
from its slot being granted to its last byte being acknowledged.  A sample counts only
if the part started after the last change of the limit, ended at a moment every slot was
in use (the limit, not the caller's demand, was what bounded the work), and went through
on its first attempt.  The estimate of the limit's throughput is then
``limit * median(part rates)``: the median shrugs off a part that met a hiccup.  Per-part
rates are immune to what bytes-written counters suffer from (socket buffers swallowing
the first megabytes of every new connection), and a level gets judged one part duration
after it was set, not after a whole round of parts.

**Where it starts.**  A level is judged one part duration after it is set, so each
doubling costs a part duration (about a second for 8 MiB at 8 MB/s), and a file of 64
parts has only two or three such rounds in it: the first level is where most of a file
of moderate size is sent.  ``initial_concurrency`` is therefore 32, not the 8-10 of
fixed-count clients: 32 parts fill 512 MB/s of 16 MB/s paths in the first round; an
object store takes thousands of PUTs a second per prefix, memory does not grow with
the level (parts share 16 MiB of chunks), and a store that cannot take 32 says so with
a 503 and the limit halves within one round.  Starting at 16 measured 1.7x the official
client on the WAN path of the benchmarks and 2.0x on the far one; 32 sends the whole
first half of those files at once.

**Slow start.**  From ``initial_concurrency`` the limit doubles each time a level has
``limit // 2`` samples (at least 2) and its throughput beat the previous level's by
``GROW_GAIN`` (20 %): more paths still paid.  The first level that does not pay sends
the limit back to the last one that did, and slow start ends: the knee of the path (where
more parts stop adding throughput) lies within a factor two of that level, and probing
closes the gap.

**Hold and probe.**  Settled, the limit is re-measured at every decision, and every
few decisions (``MIN_PROBE_INTERVAL`` at first) it tries a quarter more (at least one).
A probe that gains ``PROBE_SHARE`` (two fifths) of what its extra parts would add on a
free path (10 % for a quarter more) is kept, and probing goes on at the shortest
interval; one that does not goes back, and the interval doubles (up to
``MAX_PROBE_INTERVAL`` decisions).  Changes after settling are thus rare, and each one is
an excursion of one measurement that either pays or is undone: the limit converges and
does not oscillate.  A level is only compared with the measurement just before it, so a
path that changes speed over an hour is followed.

**Back-off.**  A 503/SlowDown, 429, 504, timeout or reset of a part PUT is the storage or
the path saying "too much": the limit halves (never below 1; a probe goes back to the
level it left, which was fine), slow start ends, and probing waits the longest interval.
One halving per level: failures of parts that started before the halving do not halve
again, since they describe the old level.  The level that failed becomes a ceiling
probes stay below, so the limit climbs back to just under it instead of sawing up and
down through it; the ceiling is forgotten after ``CEILING_MEMORY`` decisions without
congestion (the overload may have passed).

``adaptive=False`` pins the limit at the cap (``max_concurrency=N`` exactly); a server's
own per-upload cap (a sandbox session's ``max_concurrency``) is applied per upload by the
uploader, before a slot here is asked for.  Time comes from ``clock``, so tests decide
what a second is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from ..errors import AtaiFsError, TransportError

__all__ = ["PartConcurrency", "PartTicket", "signals_congestion"]

log = logging.getLogger("atai_fs")

GROW_GAIN = 0.20
"""Throughput a doubling must add (relative) for slow start to go on."""
PROBE_SHARE = 0.4
"""A probe is kept if it adds this share of the throughput its extra parts would add on
an unsaturated path (10 % for a probe of a quarter more)."""
PROBE_STEP = 0.25
"""A probe adds this fraction of the limit (at least one part)."""
MIN_PROBE_INTERVAL = 2
MAX_PROBE_INTERVAL = 16
"""Decisions between probes: the shortest, and the longest after failed probes."""
CEILING_MEMORY = 32
"""Decisions without congestion after which the level that failed may be tried again."""
_CONGESTED_STATUSES = frozenset({429, 503, 504})


def signals_congestion(exc: BaseException) -> bool:
    """Whether a failed part PUT says the store or the path is overloaded (as opposed
    to a refused signature, an expired URL or a corrupted part)."""
    if isinstance(exc, TransportError):
        return True  # timeouts, resets, connections refused
    if not isinstance(exc, AtaiFsError):
        return False
    return exc.status in _CONGESTED_STATUSES or exc.code == "SlowDown"


@dataclass
class PartTicket:
    """One granted slot: when, at which level, and whether it went cleanly."""

    started: float
    epoch: int
    failed: bool = False


@dataclass
class _Level:
    """The measurement of one level of the limit."""

    limit: int
    epoch: int
    rates: list[float] = field(default_factory=list)

    def throughput(self) -> float:
        return self.limit * statistics.median(self.rates)


class PartConcurrency:
    """A semaphore for part PUTs whose size the rule of the module docstring moves."""

    def __init__(
        self,
        cap: int,
        *,
        initial: int = 32,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cap < 1 or initial < 1:
            raise ValueError("concurrency cap and initial level must be at least 1")
        self.cap = cap
        self.adaptive = adaptive
        self.limit = min(initial, cap) if adaptive else cap
        self._clock = clock
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[PartTicket]] = deque()
        self._epoch = 0  # bumped at every change of the limit
        self._level = _Level(self.limit, self._epoch)
        self._previous: _Level | None = None  # the measured level before this one
        self._phase = "slow start" if adaptive and self.limit < cap else "hold"
        self._probing: _Level | None = None  # the settled level a probe may go back to
        self._probe_interval = MIN_PROBE_INTERVAL
        self._decisions_since_probe = 0
        self._ceiling: int | None = None  # the level that last met congestion
        self._decisions_since_congestion = 0
        #: (time, limit) at start and at every change: what the benchmarks report.
        self.history: list[tuple[float, int]] = [(clock(), self.limit)]
        self.max_in_flight = 0

    @classmethod
    def fixed(cls, limit: int) -> PartConcurrency:
        """A plain bound of ``limit`` parts (one-off uploads, tests)."""
        return cls(limit, adaptive=False)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def settled(self) -> int:
        """The limit the controller holds, leaving a probe under way out of it."""
        return self._probing.limit if self._probing is not None else self.limit

    # -- the semaphore ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[PartTicket]:
        """Hold one of ``limit`` slots for a part PUT; the ticket records how it went."""
        ticket = await self._acquire()
        try:
            yield ticket
        finally:
            self._release()

    async def _acquire(self) -> PartTicket:
        if self._in_flight < self.limit and not self._waiters:
            return self._grant()
        waiter: asyncio.Future[PartTicket] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter  # _wake granted the slot before waking us
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # granted and cancelled at once: give the slot back
            else:
                self._waiters.remove(waiter)
            raise

    def _grant(self) -> PartTicket:
        """Take a slot; the ticket is dated now, at the level of now (a woken waiter may
        run only after the limit changed again)."""
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        return PartTicket(self._clock(), self._epoch)

    def _release(self) -> None:
        self._in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._grant())

    # -- what parts report -------------------------------------------------------------

    def part_failed(self, ticket: PartTicket, exc: BaseException) -> None:
        """An attempt of the ticket's part failed; back off if it says congestion."""
        ticket.failed = True
        if not self.adaptive or not signals_congestion(exc) or ticket.epoch != self._epoch:
            return
        probed, self._probing = self._probing, None
        self._phase = "hold"
        self._probe_interval = MAX_PROBE_INTERVAL
        self._decisions_since_probe = 0
        self._ceiling = self.limit
        self._decisions_since_congestion = 0
        # A probe that meets congestion goes back to the level it left, which was fine;
        # congestion at a level that was fine means the store got busier: halve.
        back_to = probed.limit if probed is not None else max(1, self.limit // 2)
        self._set(back_to, f"back-off after {type(exc).__name__}")

    def part_sent(self, ticket: PartTicket, nbytes: int) -> None:
        """The ticket's part went through: a sample of its level, maybe a decision.
        (Called before its slot is released, so a full pool still counts it.)"""
        if not self.adaptive or ticket.failed:
            return
        if self._in_flight < self.limit and not self._waiters:
            return  # the caller's demand, not the limit, bounded the work
        if ticket.epoch != self._epoch or nbytes <= 0:
            return
        elapsed = self._clock() - ticket.started
        if elapsed <= 0:
            return
        level = self._level
        level.rates.append(nbytes / elapsed)
        if len(level.rates) >= max(2, level.limit // 2):
            self._decide(level)

    # -- the rule ----------------------------------------------------------------------

    def _decide(self, level: _Level) -> None:
        previous, self._previous = self._previous, level
        self._decisions_since_congestion += 1
        if self._decisions_since_congestion >= CEILING_MEMORY:
            self._ceiling = None
        rate = level.throughput()
        if self._phase == "slow start":
            if previous is None or rate >= previous.throughput() * (1 + GROW_GAIN):
                if level.limit * 2 >= self.cap:
                    self._phase = "hold"
                self._set(min(self.cap, level.limit * 2), "slow start")
            else:
                self._phase = "hold"
                self._set(previous.limit, "settled: the last doubling did not pay")
                self._previous = previous
            return
        if self._probing is not None:  # a probe was measured: keep it or go back
            settled, self._probing = self._probing, None
            added = level.limit / settled.limit - 1
            if rate >= settled.throughput() * (1 + PROBE_SHARE * added):
                self._probe_interval = MIN_PROBE_INTERVAL
                self._restart_level("probe kept")
            else:
                self._probe_interval = min(MAX_PROBE_INTERVAL, self._probe_interval * 2)
                self._previous = settled
                self._set(settled.limit, "probe did not pay")
            return
        self._decisions_since_probe += 1
        highest = self.cap if self._ceiling is None else min(self.cap, self._ceiling - 1)
        target = min(highest, level.limit + max(1, int(level.limit * PROBE_STEP)))
        if self._decisions_since_probe >= self._probe_interval and target > level.limit:
            self._decisions_since_probe = 0
            self._probing = level
            self._set(target, "probe")
            return
        self._restart_level(None)

    def _restart_level(self, why: str | None) -> None:
        """Measure the same limit afresh (the previous measurement is the reference)."""
        self._level = _Level(self.limit, self._epoch)
        if why:
            log.debug("part concurrency stays at %d (%s)", self.limit, why)

    def _set(self, limit: int, why: str) -> None:
        self._epoch += 1
        if limit != self.limit:
            log.debug("part concurrency %d -> %d (%s)", self.limit, limit, why)
            self.limit = limit
            self.history.append((self._clock(), limit))
        self._level = _Level(limit, self._epoch)
        self._wake()
