"""Faults on the Files API's routes: :class:`Fault`, :class:`FaultInjector` and their text.

The fields, triggers and checks are the shared ones (:mod:`.._shared.faults`); this
module names the routes and the actions each of them takes.
"""

from __future__ import annotations

from .._shared.faults import ANY_ROUTE, BaseFault, BaseFaultInjector, format_fault
from .._shared.storage import PUT_ROUTE, STORAGE_ROUTES

__all__ = [
    "ACTION_ROUTES",
    "ANY_ROUTE",
    "API_JSON_ROUTES",
    "ROUTES",
    "Fault",
    "FaultInjector",
    "format_fault",
    "parse_fault",
]

API_JSON_ROUTES = frozenset(
    {
        "initiate",
        "parts_urls",
        "checkpoint",
        "complete",
        "metadata_list",
        "metadata_get",
        "delete",
        "info",
        "simple_upload",
        "base64_upload",
    }
)
"""API routes whose success body is JSON."""

ROUTES = API_JSON_ROUTES | {"abort", "download"} | STORAGE_ROUTES
"""Route names, as counted in ``EmulatorStats.requests_by_route``; ``"*"`` means all."""

ACTION_ROUTES: dict[str, frozenset[str]] = {
    "status": ROUTES,
    "reset": ROUTES,
    "slow": ROUTES,
    "latency": ROUTES,
    "malformed_json": API_JSON_ROUTES,
    "truncated_json": API_JSON_ROUTES,
    "wrong_etag": frozenset({PUT_ROUTE}),
    "expire_url": STORAGE_ROUTES,
}
"""Each action and the routes it can apply to."""


class Fault(
    BaseFault, action_routes=ACTION_ROUTES, api_name="Files API", example_route="storage_put"
):
    """One way for the Files API emulator to misbehave, and when.

    ``route`` is one of :data:`ROUTES` (``initiate``, ``parts_urls``, ``checkpoint``,
    ``complete``, ``abort``, ``metadata_list``, ``metadata_get``, ``download``, ``delete``,
    ``info``, ``simple_upload``, ``base64_upload``, ``storage_put``, ``storage_get``) or
    ``"*"``. An injected ``status`` answers the ``{"errors": [...]}`` envelope on API
    routes, S3 XML on storage. The actions, the other fields and the triggers are those
    of :class:`~atai_fs.emulator._shared.faults.BaseFault`.
    """


class FaultInjector(BaseFaultInjector[Fault]):
    """The faults of one Files API emulator (``emu.faults``): ``add``, ``clear``, ``fired``."""

    fault_type = Fault


parse_fault = Fault.parse
"""A :class:`Fault` from its ``key=value,...`` text (:meth:`Fault.parse`)."""
