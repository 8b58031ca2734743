"""Faults on the sandbox routes: :class:`SandboxFault` and its injector.

The fields, triggers and checks are the shared ones (:mod:`.._shared.faults`); this
module names the routes and the actions each of them takes (there is no storage, so
``wrong_etag`` and ``expire_url`` are not available).
"""

from __future__ import annotations

from .._shared.faults import BaseFault, BaseFaultInjector

JSON_ROUTES = frozenset({"create", "status", "part", "complete"})
"""Sandbox routes whose success body is JSON."""

ROUTES = JSON_ROUTES | {"abort", "direct"}
"""Route names, as counted in ``stats.requests_by_route``."""

ACTION_ROUTES: dict[str, frozenset[str]] = {
    "status": ROUTES,
    "reset": ROUTES,
    "slow": ROUTES,
    "latency": ROUTES,
    "malformed_json": JSON_ROUTES,
    "truncated_json": JSON_ROUTES,
}


class SandboxFault(
    BaseFault, action_routes=ACTION_ROUTES, api_name="sandbox", example_route="part"
):
    """A fault on a sandbox route (see :data:`ROUTES`).

    ``status`` answers with the sandbox ``ErrorResponse`` body (code from the status,
    e.g. 503 ``internal_error``, 429 ``rate_limit_exceeded``).  ``slow`` on ``part``
    delays the answer, not the body read.  The other fields and the triggers are those
    of :class:`~atai_fs.emulator._shared.faults.BaseFault`.
    """


class SandboxFaultInjector(BaseFaultInjector[SandboxFault]):
    """The faults of one sandbox emulator; ``add(**fields)`` builds sandbox faults."""

    fault_type = SandboxFault


parse_sandbox_fault = SandboxFault.parse
"""A :class:`SandboxFault` from its ``key=value,...`` text (:meth:`SandboxFault.parse`)."""
