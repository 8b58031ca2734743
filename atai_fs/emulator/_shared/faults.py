"""Fault injection: what may go wrong (:class:`BaseFault`) and when it does
(:class:`BaseFaultInjector`).

Every emulator misbehaves the same way; only its route names differ. An API's fault
class is a :class:`BaseFault` that names its routes and the actions each takes
(``ACTION_ROUTES``); this module holds the rest: the fields and their checks, the
triggers and the seeded decisions. :mod:`.fault_text` reads and writes a fault's
``key=value`` text; :mod:`.injection` makes a fired fault happen.

Decisions use one seeded ``random.Random`` under a lock, so a test thread may add and
clear faults while the server runs, and the same seed with the same sequence of requests
gives the same failures.  Time windows (``start``, ``duration``) are read on the
injector's clock, the emulator's (``clock=`` option, ``time.monotonic`` by default), so a
test may drive an outage of minutes with a virtual clock it shares with the client.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Generic, TypeVar

from .fault_text import format_fault, parse_fields
from .injection import INJECTED_ACTIONS

__all__ = [
    "ANY_ROUTE",
    "INJECTED_ACTIONS",
    "BaseFault",
    "BaseFaultInjector",
    "format_fault",
]

F = TypeVar("F", bound="BaseFault")

ANY_ROUTE = "*"
"""The route of a fault that applies to every route its action applies to."""


@dataclass(frozen=True)
class BaseFault:
    """One way for an emulator to misbehave, and when.

    Actions (each API's ``ACTION_ROUTES`` says which it offers, on which routes):

    - ``status``: answer ``status`` (default 503) with an error body: the API's own on its
      routes, S3 XML on storage; ``retry_after`` (seconds, or an HTTP date string) adds a
      ``Retry-After`` header; ``body`` replaces the body (e.g. an HTML page from a proxy).
      The handler does not run.
    - ``reset``: a request with a body has half of it read, then the TCP connection is
      reset (the handler does not run); a request without a body is handled and its
      response is cut after half its body (side effects happened, the client cannot know).
    - ``reset_after``: the handler runs, then the connection is reset before any answer:
      a request that landed although the client saw a transport error.
    - ``slow``: a storage PUT receives its body over ``delay`` seconds; every other route
      sends its response body over ``delay`` seconds.
    - ``latency``: sleep ``delay`` seconds, then handle normally.
    - ``malformed_json`` / ``truncated_json`` (JSON routes): the handler runs and its
      status is kept; the body becomes non-JSON / the first half of the real JSON.
    - ``wrong_etag`` (``storage_put``): the part is stored, the ``ETag`` answered is not
      the MD5 of what was received.
    - ``expire_url`` (storage routes): 403 ``AccessDenied`` / ``Request has expired``
      although the URL is valid.

    Triggering: by default every matching request. ``times=N``: the next N matching
    requests. ``nth=K``: only the K-th matching request (1-based). ``probability=p``: each
    matching request with the seeded RNG; with ``times`` it fires at most N times.
    ``route="*"`` matches every route the action applies to.

    Time window: ``start=S`` (seconds, default 0) and ``duration=D`` (seconds, default
    none: no end) make the fault active from S seconds after it was added (a fault the
    emulator was started with: after the emulator's start) for D seconds, on the
    emulator's clock: ``"route=storage_put,status=503,start=5,duration=60"`` is a
    one-minute storage outage beginning five seconds in.  Outside its window a fault
    does not see requests at all: ``nth``, ``times`` and ``probability`` count only the
    requests inside it.
    """

    ACTION_ROUTES: ClassVar[Mapping[str, frozenset[str]]] = {}
    """Each action this API offers and the routes (``stats.requests_by_route`` names) it
    applies to."""
    API_NAME: ClassVar[str] = "this API's"
    """How error messages name the API ("not available on sandbox routes")."""
    EXAMPLE_ROUTE: ClassVar[str] = ""
    """A route named in the message of a fault text without one."""

    def __init_subclass__(
        cls,
        *,
        action_routes: Mapping[str, frozenset[str]],
        api_name: str,
        example_route: str,
        **kwargs: Any,
    ) -> None:
        """An API's fault class names its routes in its ``class`` line."""
        super().__init_subclass__(**kwargs)
        cls.ACTION_ROUTES = action_routes
        cls.API_NAME = api_name
        cls.EXAMPLE_ROUTE = example_route

    route: str
    action: str = "status"
    status: int = 503
    retry_after: float | str | None = None
    body: str | None = None
    delay: float = 1.0
    times: int | None = None
    nth: int | None = None
    probability: float | None = None
    start: float = 0.0
    duration: float | None = None

    def __post_init__(self) -> None:
        offered = self.ACTION_ROUTES
        if self.action not in offered:
            if self.action in INJECTED_ACTIONS:
                raise ValueError(
                    f"action {self.action!r} is not available on {self.API_NAME} routes; "
                    f"one of {sorted(offered)}"
                )
            raise ValueError(f"unknown fault action {self.action!r}; one of {sorted(offered)}")
        routes = self.routes()
        if self.route != ANY_ROUTE and self.route not in routes:
            raise ValueError(f"unknown route {self.route!r}; one of {sorted(routes)} or '*'")
        if self.route != ANY_ROUTE and self.route not in offered[self.action]:
            raise ValueError(
                f"action {self.action!r} does not apply to route {self.route!r}; it applies "
                f"to {sorted(offered[self.action])}"
            )
        if not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {self.status}")
        _check_retry_after(self.retry_after)
        if not math.isfinite(self.delay) or self.delay < 0:
            raise ValueError(f"delay must be a non-negative number of seconds, got {self.delay}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be at least 1, got {self.times}")
        if self.nth is not None and self.nth < 1:
            raise ValueError(f"nth is 1-based, got {self.nth}")
        if self.probability is not None and not 0 < self.probability <= 1:
            raise ValueError(f"probability must be in (0, 1], got {self.probability}")
        if self.nth is not None and (self.times is not None or self.probability is not None):
            raise ValueError("nth cannot be combined with times or probability")
        if not math.isfinite(self.start) or self.start < 0:
            raise ValueError(f"start must be a non-negative number of seconds, got {self.start}")
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration must be a positive number of seconds, got {self.duration}")

    @classmethod
    def routes(cls) -> frozenset[str]:
        """Every route some action of this API applies to."""
        return frozenset().union(*cls.ACTION_ROUTES.values())

    def matches(self, route: str) -> bool:
        if self.route == ANY_ROUTE:
            return route in self.ACTION_ROUTES[self.action]
        return route == self.route

    @property
    def retry_after_header(self) -> str | None:
        """The ``Retry-After`` value: whole seconds as an integer, or the date string."""
        if self.retry_after is None or isinstance(self.retry_after, str):
            return self.retry_after
        value = float(self.retry_after)
        return str(int(value)) if value.is_integer() else str(value)

    @classmethod
    def parse(cls: type[F], text: str) -> F:
        """A fault from ``key=value`` pairs separated by commas (see :mod:`.fault_text`),
        e.g. ``"route=storage_put,action=status,status=503,probability=0.1,retry_after=1"``.
        """
        return cls(**parse_fields(text, cls))

    @classmethod
    def coerce(cls: type[F], fault: BaseFault | str) -> F:
        """``fault`` as one of this API's: parsed from its text, or another API's fault
        checked again against this API's routes."""
        if isinstance(fault, str):
            return cls.parse(fault)
        if isinstance(fault, cls):
            return fault
        if isinstance(fault, BaseFault):
            return cls(**{field.name: getattr(fault, field.name) for field in fields(fault)})
        raise TypeError(f"expected a {cls.__name__} or its text, got {type(fault).__name__}")

    @classmethod
    def coerce_all(cls: type[F], faults: Iterable[BaseFault | str]) -> tuple[F, ...]:
        """Each of ``faults`` as one of this API's (see :meth:`coerce`)."""
        return tuple(cls.coerce(fault) for fault in faults)


def _check_retry_after(value: float | str | None) -> None:
    if value is None:
        return
    if isinstance(value, str):
        if value.strip().isdigit():
            return
        try:
            parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"retry_after must be seconds or an HTTP date such as "
                f"'Wed, 21 Oct 2015 07:28:00 GMT', got {value!r}"
            ) from None
        return
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"retry_after must be a non-negative number of seconds, got {value!r}")


# -- deciding ------------------------------------------------------------------------------
class _Entry(Generic[F]):
    __slots__ = ("added_at", "fault", "fired", "seen")

    def __init__(self, fault: F, added_at: float | None) -> None:
        self.fault = fault
        self.added_at = added_at
        """When it was added (``None``: with the injector, timed from its start)."""
        self.seen = 0
        self.fired = 0


class BaseFaultInjector(Generic[F]):
    """The faults of one emulator; thread-safe, so tests may change them while it serves.

    Every matching fault counts the request (for ``nth``); the first one, in the order
    added, that decides to fire is applied. Exhausted faults stay listed in :attr:`fired`.
    Subclasses set ``fault_type``, the API's fault class, which :meth:`add` builds.

    ``clock`` is where the time of fault windows comes from; the windows of the faults
    given here count from :meth:`start` (the emulator calls it when it starts serving;
    until then, from the injector's creation), those of faults added later from their
    :meth:`add`.
    """

    fault_type: type[F]

    def __init__(
        self,
        faults: Iterable[BaseFault | str] = (),
        seed: int | None = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._clock = clock
        self._started_at = clock()
        self._entries: list[_Entry[F]] = []
        for fault in faults:
            self._entries.append(_Entry(self.fault_type.coerce(fault), None))

    def start(self) -> None:
        """The emulator starts serving: the windows of its initial faults begin now."""
        with self._lock:
            self._started_at = self._clock()

    def add(self, fault: BaseFault | str | None = None, /, **fields: Any) -> F:
        """Add ``fault`` (or its text), or one built from ``fields``
        (``add(route="initiate", status=500)``); returns it as this API's fault.  Its
        time window, if any, counts from now."""
        if fault is None:
            added = self.fault_type(**fields)
        elif fields:
            raise TypeError("pass either a fault or its fields, not both")
        else:
            added = self.fault_type.coerce(fault)
        with self._lock:
            self._entries.append(_Entry(added, self._clock()))
        return added

    def clear(self) -> None:
        """Remove every fault and forget what fired; the RNG restarts from the seed."""
        with self._lock:
            self._entries.clear()
            self._rng = random.Random(self._seed)

    @property
    def faults(self) -> list[F]:
        """Faults that may still fire, in the order added."""
        with self._lock:
            now = self._clock()
            return [e.fault for e in self._entries if not self._spent(e, now)]

    @property
    def fired(self) -> dict[F, int]:
        """How many requests each fault was applied to (equal faults are summed)."""
        counts: Counter[F] = Counter()
        with self._lock:
            for entry in self._entries:
                counts[entry.fault] += entry.fired
        return dict(counts)

    @property
    def total_fired(self) -> int:
        with self._lock:
            return sum(e.fired for e in self._entries)

    def pick(self, route: str | None) -> F | None:
        """The fault to apply to this request of ``route``, if any (server side)."""
        if route is None:
            return None
        with self._lock:
            now = self._clock()
            chosen: _Entry[F] | None = None
            for entry in self._entries:
                if not entry.fault.matches(route) or not self._open(entry, now):
                    continue
                entry.seen += 1
                if chosen is None and self._fires(entry):
                    chosen = entry
            if chosen is None:
                return None
            chosen.fired += 1
            return chosen.fault

    def _fires(self, entry: _Entry[F]) -> bool:
        fault = entry.fault
        if fault.nth is not None:
            return entry.seen == fault.nth
        if fault.times is not None and entry.fired >= fault.times:
            return False
        if fault.probability is not None:
            return self._rng.random() < fault.probability
        return True

    def _window(self, entry: _Entry[F]) -> tuple[float, float]:
        """When ``entry``'s fault is active: from, until (on the injector's clock)."""
        fault = entry.fault
        begin = (self._started_at if entry.added_at is None else entry.added_at) + fault.start
        return begin, math.inf if fault.duration is None else begin + fault.duration

    def _open(self, entry: _Entry[F], now: float) -> bool:
        begin, end = self._window(entry)
        return begin <= now < end

    def _spent(self, entry: _Entry[F], now: float) -> bool:
        """Whether ``entry`` can fire no more: exhausted, or its window is over."""
        return _exhausted(entry) or now >= self._window(entry)[1]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(faults={self.faults!r}, seed={self._seed!r})"


def _exhausted(entry: _Entry[F]) -> bool:
    fault = entry.fault
    if fault.nth is not None:
        return entry.seen >= fault.nth
    return fault.times is not None and entry.fired >= fault.times
