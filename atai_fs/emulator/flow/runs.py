"""Runs of the emulated controller and the object store behind their upload URLs.

A run is created ``STOPPED``, gets one waiting URL per ``upload`` data well, starts
(``WAITING``) and is then advanced by scheduler passes (:meth:`Run.step`): an upload is
detected when its object exists in the store (the engine stats the object), nodes whose
inputs are all available are dispatched (``RUNNING``) and finish on the next pass, and
the run is ``COMPLETE`` once every node is.  All mutation happens on the server loop;
the registry's lock only keeps snapshots taken from test threads consistent.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .definition import FlowDefinition, FlowInvalid
from .store import FlowStore

STOPPED, WAITING, RUNNING, COMPLETE, ERROR = "STOPPED", "WAITING", "RUNNING", "COMPLETE", "ERROR"
FINISHED = (COMPLETE, ERROR)

ZERO_RUN = {"ID": "", "NodeState": None, "Status": "", "Artifacts": None, "WaitingURLs": None}
"""The zero-value run Go encodes after the 400 of an unknown id (spec 4.2)."""

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def new_run_id() -> str:
    """A UUIDv7 (time-ordered), as the engine's run ids."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= secrets.randbits(12) << 64
    value |= 0b10 << 62
    value |= secrets.randbits(62)
    return str(uuid.UUID(int=value))


def rfc3339(moment: float) -> str:
    """Go's RFC 3339 with nanoseconds, trailing zeros trimmed (``time.RFC3339Nano``)."""
    whole = datetime.fromtimestamp(int(moment), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    # Microseconds are all a float of Unix time holds faithfully.
    micros = min(round((moment - int(moment)) * 1e6), 999_999)
    nanos = f"{micros * 1000:09d}".rstrip("0")
    return f"{whole}.{nanos}Z" if nanos else f"{whole}Z"


def expand_key(template: str, *, run_id: str, flow_name: str, edge: str, now: float) -> str:
    """Expand ``${NAME}`` placeholders once, at run creation; unknown names are empty."""
    moment = datetime.fromtimestamp(now, timezone.utc)
    values = {
        "RUN_ID": run_id,
        "FLOW_NAME": flow_name,
        "EDGE": edge,
        "TIMESTAMP": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "DATE": moment.strftime("%Y-%m-%d"),
        "YEAR": moment.strftime("%Y"),
        "MONTH": moment.strftime("%m"),
        "DAY": moment.strftime("%d"),
    }

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(uuid.uuid4()) if name == "UUID" else values.get(name, "")

    return _PLACEHOLDER.sub(one, template)


@dataclass
class WaitingEntry:
    edge: str
    store: str
    bucket: str
    object_name: str
    put_url: str
    expires_at: float

    def artifact(self) -> dict[str, str]:
        return {"StoreName": self.store, "ObjectName": self.object_name, "EdgeName": self.edge}

    def to_json(self) -> dict[str, Any]:
        return {
            "Artifact": self.artifact(),
            "PutURL": self.put_url,
            "TTL": rfc3339(self.expires_at),
        }


@dataclass
class NodeRun:
    status: str = "IDLE"
    logs: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""
    attempt: int = 0
    max_attempts: int = 3

    def log(self, message: str) -> None:
        self.logs.append(
            {"time": rfc3339(time.time()), "level": "info", "msg": message, "fields": {}}
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Status": self.status,
            "Logs": list(self.logs),
            "Error": self.error,
            "Attempt": self.attempt,
            "MaxAttempts": self.max_attempts,
        }


@dataclass
class Run:
    """One flow run and its scheduler passes (see the module docstring)."""

    id: str
    flow: FlowDefinition
    status: str = STOPPED
    nodes: dict[str, NodeRun] = field(default_factory=dict)
    artifacts: dict[str, dict[str, str]] = field(default_factory=dict)
    waiting: list[WaitingEntry] = field(default_factory=list)
    finished_passes: int = 0
    purged: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "ID": self.id,
            "NodeState": {name: node.to_json() for name, node in self.nodes.items()},
            "Status": self.status,
            "Artifacts": {edge: dict(artifact) for edge, artifact in self.artifacts.items()},
            "WaitingURLs": [entry.to_json() for entry in self.waiting],
        }

    def step(self, store: FlowStore, *, on_expiry: str, now: float | None = None) -> None:
        """One scheduler pass."""
        now = time.time() if now is None else now
        if self.status in FINISHED:
            self.finished_passes += 1
            return
        if self.status not in (WAITING, RUNNING):
            return
        still_waiting = []
        for entry in self.waiting:
            if store.get(entry.bucket, entry.object_name) is not None:
                self.artifacts[entry.edge] = entry.artifact()
            else:
                still_waiting.append(entry)
        self.waiting = still_waiting
        if on_expiry == "error" and any(entry.expires_at <= now for entry in self.waiting):
            expired = ", ".join(e.edge for e in self.waiting if e.expires_at <= now)
            for node in self.nodes.values():
                if node.status != COMPLETE:
                    node.status, node.error = ERROR, f"upload URL expired for {expired}"
            self.status = ERROR
            return
        for spec in self.flow.nodes:
            node = self.nodes[spec.id]
            if node.status == RUNNING:
                node.status = COMPLETE
                node.log("node complete")
                for edge, store_name in spec.outputs:
                    target = self.flow.store_for_output(store_name)
                    self.artifacts[edge] = {
                        "StoreName": target.name,
                        "ObjectName": f"{edge}_{self.id}",
                        "EdgeName": edge,
                    }
        for spec in self.flow.nodes:
            node = self.nodes[spec.id]
            if node.status == "IDLE" and all(edge in self.artifacts for edge in spec.inputs):
                node.status, node.attempt = RUNNING, 1
                node.log("node ready; dispatched")
        if all(node.status == COMPLETE for node in self.nodes.values()) and not self.waiting:
            self.status = COMPLETE
        elif any(node.status == RUNNING for node in self.nodes.values()) and not self.waiting:
            self.status = RUNNING
        else:
            self.status = WAITING


class RunRegistry:
    """Every run of one emulator, purged ones included (tests may still inspect them)."""

    def __init__(self, store: FlowStore, *, url_lifetime: float, on_expiry: str, purge: bool):
        self.store = store
        self.url_lifetime = url_lifetime
        self.on_expiry = on_expiry
        self.purge = purge
        self.lock = threading.Lock()
        self._runs: dict[str, Run] = {}

    def create(self, flow: FlowDefinition, origin: str) -> Run:
        """Validate what needs the store, create the run, issue its URLs, start it."""
        now = time.time()
        run = Run(new_run_id(), flow)
        for spec in flow.nodes:
            run.nodes[spec.id] = NodeRun(max_attempts=spec.max_attempts)
        waiting: list[WaitingEntry] = []
        for well in flow.wells:
            store = flow.stores[well.store]
            template = well.key or f"{well.edge}_{run.id}"
            name = expand_key(template, run_id=run.id, flow_name=flow.name, edge=well.edge, now=now)
            if not name.strip("/"):
                raise FlowInvalid(f"data well {well.edge!r}: the key expands to nothing")
            if well.source == "static":
                if self.store.get(store.bucket, name) is None:
                    raise FlowInvalid(f"static well {well.edge!r}: object {name!r} does not exist")
                run.artifacts[well.edge] = {
                    "StoreName": store.name,
                    "ObjectName": name,
                    "EdgeName": well.edge,
                }
            elif well.source == "upload":
                key = self.store.open_for_upload(store.bucket, name)
                # TTL = creation time + 1 h (spec section 3): the run's one clock reading.
                url, expires_at = self.store.storage.presign_put(
                    key, origin, self.url_lifetime, issued_at=now
                )
                waiting.append(
                    WaitingEntry(well.edge, store.name, store.bucket, name, url, expires_at)
                )
        run.waiting = waiting
        run.status = WAITING
        with self.lock:
            self._runs[run.id] = run
            run.step(self.store, on_expiry=self.on_expiry)
        return run

    def visible(self, run_id: str) -> Run | None:
        with self.lock:
            run = self._runs.get(run_id)
            return None if run is None or run.purged else run

    def step(self, run: Run) -> None:
        with self.lock:
            run.step(self.store, on_expiry=self.on_expiry)
            if self.purge and run.finished_passes >= 1:
                run.purged = True

    def step_all(self) -> None:
        with self.lock:
            runs = [run for run in self._runs.values() if not run.purged]
        for run in runs:
            self.step(run)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """run id -> the run's JSON now (purged runs included)."""
        with self.lock:
            return {run_id: run.to_json() for run_id, run in self._runs.items()}

    def get(self, run_id: str) -> Run | None:
        with self.lock:
            return self._runs.get(run_id)

    def uploaded(self, run: Run, edge: str) -> bytes | None:
        """The bytes uploaded for ``edge`` of ``run`` (waiting or already detected), or None."""
        with self.lock:
            location = next(
                ((e.bucket, e.object_name) for e in run.waiting if e.edge == edge), None
            )
            artifact = run.artifacts.get(edge)
            if location is None and artifact is not None:
                location = run.flow.stores[artifact["StoreName"]].bucket, artifact["ObjectName"]
        if location is None:
            return None
        stored = self.store.get(*location)
        return stored.path.read_bytes() if stored is not None else None


__all__ = [
    "FINISHED",
    "ZERO_RUN",
    "Run",
    "RunRegistry",
    "expand_key",
    "new_run_id",
    "rfc3339",
]
