"""Faults on the flow emulator's routes: the controller's two and the store's PUT.

The fields, triggers and checks are the shared ones (:mod:`.._shared.faults`); this
module names the routes and the actions each of them takes.
"""

from __future__ import annotations

from .._shared.faults import BaseFault, BaseFaultInjector
from .._shared.storage import PUT_ROUTE

CONTROLLER_ROUTES = frozenset({"flow_test", "flow_status"})
"""Controller routes (JSON on success, plain-text errors)."""

ROUTES = CONTROLLER_ROUTES | {PUT_ROUTE}
"""Route names, as counted in ``stats.requests_by_route``."""

ACTION_ROUTES: dict[str, frozenset[str]] = {
    "status": ROUTES,
    "reset": ROUTES,
    "slow": ROUTES,
    "latency": ROUTES,
    "malformed_json": CONTROLLER_ROUTES,
    "truncated_json": CONTROLLER_ROUTES,
    "wrong_etag": frozenset({PUT_ROUTE}),
    "expire_url": frozenset({PUT_ROUTE}),
}


class FlowFault(
    BaseFault, action_routes=ACTION_ROUTES, api_name="flow", example_route="storage_put"
):
    """A fault on a flow emulator route: ``flow_test``, ``flow_status``, ``storage_put``
    (or ``"*"``). An injected ``status`` on a controller route answers plain text, as the
    controller's errors are; on ``storage_put``, S3 XML. The actions, other fields and
    triggers are those of :class:`~atai_fs.emulator._shared.faults.BaseFault`.
    """


class FlowFaultInjector(BaseFaultInjector[FlowFault]):
    """The faults of one flow emulator (``emu.faults``): ``add``, ``clear``, ``fired``."""

    fault_type = FlowFault


parse_flow_fault = FlowFault.parse
"""A :class:`FlowFault` from its ``key=value,...`` text (:meth:`FlowFault.parse`)."""
