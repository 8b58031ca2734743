"""Fault injection on the sandbox routes, reusing the shared :class:`~..faults.Fault`
machinery (triggers, seeded RNG, thread safety, the ``key=value`` syntax).

The shared :class:`~..faults.Fault` checks its route against the Files API's routes, so
this module only changes *which* routes and actions are valid; deciding and applying
stay in :mod:`..faults` and :mod:`..injection`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._shared.faults import ANY_ROUTE, Fault, FaultInjector, parse_fault

JSON_ROUTES = frozenset({"create", "status", "part", "complete"})
"""Sandbox routes whose success body is JSON."""

ROUTES = JSON_ROUTES | {"abort"}
"""Route names, as counted in ``stats.requests_by_route``."""

ACTION_ROUTES: dict[str, frozenset[str]] = {
    "status": ROUTES,
    "reset": ROUTES,
    "slow": ROUTES,
    "latency": ROUTES,
    "malformed_json": JSON_ROUTES,
    "truncated_json": JSON_ROUTES,
}


@dataclass(frozen=True)
class SandboxFault(Fault):
    """A :class:`~..faults.Fault` on a sandbox route (see :data:`ROUTES`).

    ``status`` answers with the sandbox ``ErrorResponse`` body (code from the status,
    e.g. 503 ``internal_error``, 429 ``rate_limit_exceeded``).  ``slow`` on ``part``
    delays the answer, not the body read.
    """

    def __post_init__(self) -> None:
        if self.action not in ACTION_ROUTES:
            raise ValueError(
                f"action {self.action!r} is not available on sandbox routes; one of "
                f"{sorted(ACTION_ROUTES)}"
            )
        if self.route != ANY_ROUTE and self.route not in ACTION_ROUTES[self.action]:
            raise ValueError(
                f"action {self.action!r} does not apply to route {self.route!r}; it applies "
                f"to {sorted(ACTION_ROUTES[self.action])}"
            )
        _as_fault(self)  # the shared checks of status, delays and triggers

    def matches(self, route: str) -> bool:
        if self.route == ANY_ROUTE:
            return route in ACTION_ROUTES[self.action]
        return route == self.route


def _fields_of(fault: Fault) -> dict[str, Any]:
    return {f.name: getattr(fault, f.name) for f in dataclasses.fields(Fault)}


def _as_fault(fault: SandboxFault) -> Fault:
    return Fault(**{**_fields_of(fault), "route": ANY_ROUTE})


class SandboxFaultInjector(FaultInjector):
    """A :class:`~..faults.FaultInjector` whose ``add(**fields)`` builds sandbox faults."""

    def add(self, fault: Fault | None = None, /, **fields: Any) -> Fault:
        if fault is None:
            fault = SandboxFault(**fields)
        elif not isinstance(fault, SandboxFault) and isinstance(fault, Fault):
            fault = SandboxFault(
                **{f.name: getattr(fault, f.name) for f in dataclasses.fields(Fault)}
            )
        return super().add(fault)


def parse_sandbox_fault(text: str) -> SandboxFault:
    """A :class:`SandboxFault` from the shared ``key=value,...`` syntax."""
    pieces = text.split(",")
    route = None
    for index, piece in enumerate(pieces):
        key, _, value = piece.partition("=")
        if key.strip() == "route":
            route = value.strip()
            pieces[index] = f"route={ANY_ROUTE}"
    if route is None:
        raise ValueError(f"fault {text!r}: 'route' is required, e.g. route=part")
    parsed = parse_fault(",".join(pieces))
    return SandboxFault(**{**_fields_of(parsed), "route": route})
