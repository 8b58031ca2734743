"""Faults on the Aionvision routes: the shared :class:`~atai_fs.emulator.faults.Fault`
with this API's route names and two extra actions.

The shared injector (:class:`~atai_fs.emulator.faults.FaultInjector`) decides when an
:class:`AionFault` fires, exactly as for the Files API; the actions are the shared ones
(applied by :mod:`atai_fs.emulator.injection`) plus:

- ``reset_after`` (API routes): the handler runs (the upload is stored), then the
  connection is reset before any answer: a request that landed although the client
  saw a transport error.
- ``reject`` (route ``stream_batch_file``, tried once per file of a ``stream-batch``):
  the file is rejected with ``retryable: true``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .._shared.faults import ANY_ROUTE, Fault, parse_fault

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
    }
)
STORAGE_ROUTES = frozenset({"storage_put"})
BATCH_FILE_ROUTE = "stream_batch_file"
ROUTES = API_JSON_ROUTES | STORAGE_ROUTES | {BATCH_FILE_ROUTE}

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
    "reject": frozenset({BATCH_FILE_ROUTE}),
}


@dataclass(frozen=True)
class AionFault(Fault):
    """A :class:`~atai_fs.emulator.faults.Fault` on an Aionvision route (see module doc)."""

    def __post_init__(self) -> None:
        # The shared checks of every field but the route (and the two extra actions).
        shared_action = self.action if self.action not in ("reset_after", "reject") else "status"
        Fault(**{**dataclasses.asdict(self), "route": ANY_ROUTE, "action": shared_action})
        if self.action not in ACTION_ROUTES:
            raise ValueError(
                f"unknown fault action {self.action!r}; one of {sorted(ACTION_ROUTES)}"
            )
        if self.route != ANY_ROUTE and self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; one of {sorted(ROUTES)} or '*'")
        if self.route != ANY_ROUTE and self.route not in ACTION_ROUTES[self.action]:
            raise ValueError(
                f"action {self.action!r} does not apply to route {self.route!r}; it applies "
                f"to {sorted(ACTION_ROUTES[self.action])}"
            )

    def matches(self, route: str) -> bool:
        if self.route == ANY_ROUTE:
            return route in ACTION_ROUTES[self.action]
        return route == self.route


def parse_aion_fault(text: str) -> AionFault:
    """An :class:`AionFault` from the ``key=value,...`` text of
    :func:`~atai_fs.emulator.faults.parse_fault` (route names of this API)."""
    pieces = text.split(",")
    route = action = None
    rest = []
    for piece in pieces:
        key, _, value = piece.partition("=")
        if key.strip() == "route":
            route = value.strip()
        elif key.strip() == "action":
            action = value.strip()
        else:
            rest.append(piece)
    if route is None:
        raise ValueError(f"fault {text!r}: 'route' is required, e.g. route=stream_upload")
    shared = parse_fault(",".join(["route=*", *rest]))
    fields = dataclasses.asdict(shared)
    fields.update(route=route, action=action or "status")
    return AionFault(**fields)
