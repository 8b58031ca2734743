"""Faults on the Aionvision routes: :class:`AionFault` and its injector.

The fields, triggers and checks are the shared ones (:mod:`.._shared.faults`); this
module names the routes and the actions each of them takes: the shared ones, plus

- ``reset_after`` (API routes): the handler runs (the upload is stored), then the
  connection is reset before any answer: a request that landed although the client
  saw a transport error.
- ``reject`` (route ``stream_batch_file``, tried once per file of a ``stream-batch``):
  the file is rejected with ``retryable: true``; (route ``processing``, tried once per
  file stored): the file's processing fails.
"""

from __future__ import annotations

from .._shared.faults import BaseFault, BaseFaultInjector
from .._shared.storage import PUT_ROUTE

API_JSON_ROUTES = frozenset(
    {
        "stream_upload",
        "stream_batch",
        "quota_check",
        "check_duplicates",
        "request_presigned_url",
        "confirm",
        "session_status",
        "session_results",
        "session_cancel",
        "batch_prepare",
        "batch_confirm",
        "batch_status",
        "image_status",
    }
)
STORAGE_ROUTES = frozenset({PUT_ROUTE})
BATCH_FILE_ROUTE = "stream_batch_file"
"""Not an HTTP route: the pseudo-route a ``reject`` fault is tried on, once per batch file."""
PROCESSING_ROUTE = "processing"
"""Not an HTTP route: a ``reject`` fault on it makes one stored file's processing fail."""
ROUTES = API_JSON_ROUTES | STORAGE_ROUTES | {BATCH_FILE_ROUTE, PROCESSING_ROUTE}

_EVERYWHERE = API_JSON_ROUTES | STORAGE_ROUTES
ACTION_ROUTES: dict[str, frozenset[str]] = {
    "status": _EVERYWHERE,
    "reset": _EVERYWHERE,
    "slow": _EVERYWHERE,
    "latency": _EVERYWHERE,
    "malformed_json": API_JSON_ROUTES,
    "truncated_json": API_JSON_ROUTES,
    "wrong_etag": STORAGE_ROUTES,
    "expire_url": STORAGE_ROUTES,
    "reset_after": API_JSON_ROUTES,
    "reject": frozenset({BATCH_FILE_ROUTE, PROCESSING_ROUTE}),
}


class AionFault(
    BaseFault, action_routes=ACTION_ROUTES, api_name="Aionvision", example_route="stream_upload"
):
    """A fault on an Aionvision route (see the module docstring for the two extra
    actions). The other fields and the triggers are those of
    :class:`~atai_fs.emulator._shared.faults.BaseFault`."""


class AionFaultInjector(BaseFaultInjector[AionFault]):
    """The faults of one Aionvision emulator (``emu.faults``): ``add``, ``clear``, ``fired``."""

    fault_type = AionFault


parse_aion_fault = AionFault.parse
"""A :class:`AionFault` from its ``key=value,...`` text (:meth:`AionFault.parse`)."""
