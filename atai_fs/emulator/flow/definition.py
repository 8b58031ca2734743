"""Reading and validating the body of ``POST /flow/test`` (a flow and its node defs).

Go's JSON decoder matches field names case-insensitively and ignores unknown ones,
except inside a store's ``Params``, where unknown keys are refused; the same holds here.
A definition the controller would refuse raises :class:`FlowInvalid`, answered as
``500 unable to run flow: <reason>``; a value of the wrong JSON type for its Go field
raises :class:`FlowUndecodable`, answered as the decoder's ``400 Invalid input``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SOURCES = ("upload", "static", "webhook")
_STORE_PARAMS = ("endpoint", "bucketname", "location", "accesskey", "secretkey", "secure")


_GO_INT = range(-(2**63), 2**63)
"""What Go's ``int`` holds (64-bit): a larger JSON number does not decode into it."""


class FlowInvalid(ValueError):
    """The controller would refuse this flow (the reason is the message)."""


class FlowUndecodable(ValueError):
    """Go's JSON decoder would refuse the body: a value of the wrong type for its field
    (a string where an object is, a float where an int is), before any validation."""


@dataclass(frozen=True)
class Store:
    name: str
    bucket: str


@dataclass(frozen=True)
class DataWell:
    edge: str
    store: str
    source: str | None
    key: str | None


@dataclass(frozen=True)
class Node:
    id: str
    uses: str
    inputs: tuple[str, ...]
    outputs: tuple[tuple[str, str | None], ...]
    """(edge, store or None) of each output."""
    max_attempts: int = 3


@dataclass(frozen=True)
class FlowDefinition:
    name: str
    stores: dict[str, Store]
    default_store: str | None
    wells: tuple[DataWell, ...]
    nodes: tuple[Node, ...]
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def store_for_output(self, store: str | None) -> Store:
        """Where a node's output goes: its own store, the default store, or the first."""
        name = store or self.default_store or next(iter(self.stores))
        return self.stores[name]


def _folded(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FlowUndecodable(f"{what} must be an object")
    return {str(key).lower(): item for key, item in value.items()}


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise FlowUndecodable(f"{what} must be an array")
    return value


def _text(fields: Mapping[str, Any], name: str, what: str, *, required: bool = True) -> str | None:
    value = fields.get(name.lower())
    if value is None or value == "":
        if required:
            raise FlowInvalid(f"{what}: {name} is required")
        return None
    if not isinstance(value, str):
        raise FlowUndecodable(f"{what}: {name} must be a string")
    return value


def parse_request(body: Any) -> tuple[FlowDefinition, dict[str, int]]:
    """The flow and, per ``Publisher/Name`` node def, its ``MaxAttempts``."""
    top = _folded(body, "the request")
    node_defs: dict[str, int] = {}
    for index, item in enumerate(_list(top.get("nodedefs"), "NodeDefs")):
        fields = _folded(item, f"node def {index}")
        publisher = _text(fields, "Publisher", f"node def {index}")
        name = _text(fields, "Name", f"node def {index}")
        attempts = fields.get("maxattempts")
        if attempts is not None and (
            not isinstance(attempts, int) or isinstance(attempts, bool) or attempts not in _GO_INT
        ):
            raise FlowUndecodable(f"node def {publisher}/{name}: MaxAttempts must be an int")
        attempts = attempts or 3
        if attempts < 1:
            raise FlowInvalid(f"node def {publisher}/{name}: MaxAttempts must be a positive int")
        node_defs[f"{publisher}/{name}"] = attempts
    return parse_flow(top.get("flow"), node_defs), node_defs


def parse_flow(value: Any, node_defs: Mapping[str, int]) -> FlowDefinition:
    flow = _folded(value, "Flow")
    if not flow:
        raise FlowInvalid("no flow given")
    name = _text(flow, "Name", "flow") or ""
    stores: dict[str, Store] = {}
    for index, item in enumerate(_list(flow.get("stores"), "Stores")):
        store = _store(item, f"store {index}")
        if store.name in stores:
            raise FlowInvalid(f"store {store.name!r} is defined twice")
        stores[store.name] = store
    default_store = _text(flow, "DefaultStore", "flow", required=False)
    if default_store is not None and default_store not in stores:
        raise FlowInvalid(f"DefaultStore {default_store!r} is not a store of the flow")
    nodes = tuple(
        _node(item, index, node_defs)
        for index, item in enumerate(_list(flow.get("nodes"), "Nodes"))
    )
    ids = [node.id for node in nodes]
    if len(set(ids)) != len(ids):
        raise FlowInvalid("node IDs must be unique")
    used_edges = {edge for node in nodes for edge in node.inputs}
    used_edges |= {edge for node in nodes for edge, _ in node.outputs}
    wells: list[DataWell] = []
    for index, item in enumerate(_list(flow.get("datawells"), "DataWells")):
        well = _well(item, f"data well {index}")
        if well.edge not in used_edges:
            raise FlowInvalid(f"data well edge {well.edge!r} is not used by any node")
        if any(other.edge == well.edge for other in wells):
            raise FlowInvalid(f"two data wells feed edge {well.edge!r}")
        if well.store not in stores:
            raise FlowInvalid(f"data well {well.edge!r}: store {well.store!r} is not defined")
        if well.source == "static" and not well.key:
            raise FlowInvalid(f"data well {well.edge!r}: a static well needs a Key")
        wells.append(well)
    for node in nodes:
        for _, output_store in node.outputs:
            if output_store is not None and output_store not in stores:
                raise FlowInvalid(f"node {node.id!r}: output store {output_store!r} is not defined")
    if nodes and not stores:
        raise FlowInvalid("the flow defines no store")
    return FlowDefinition(name, stores, default_store, tuple(wells), nodes, flow)


def _store(item: Any, what: str) -> Store:
    fields = _folded(item, what)
    name = _text(fields, "Name", what) or ""
    kind = _text(fields, "Type", f"store {name!r}")
    if kind != "s3":
        raise FlowInvalid(f"store {name!r}: type {kind!r} is not supported (only s3)")
    params = _folded(fields.get("params"), f"store {name!r} Params")
    unknown = sorted(set(params) - set(_STORE_PARAMS))
    if unknown:
        raise FlowInvalid(f"store {name!r}: unknown field {unknown[0]!r} in Params")
    bucket = _text(params, "BucketName", f"store {name!r} Params") or ""
    return Store(name, bucket)


def _well(item: Any, what: str) -> DataWell:
    fields = _folded(item, what)
    edge = _text(fields, "Edge", what) or ""
    store = _text(fields, "Store", f"data well {edge!r}") or ""
    source = _text(fields, "Source", f"data well {edge!r}", required=False)
    if source is not None and source not in SOURCES:
        raise FlowInvalid(f"data well {edge!r}: unknown source {source!r}")
    key = _text(fields, "Key", f"data well {edge!r}", required=False)
    return DataWell(edge, store, source, key)


def _node(item: Any, index: int, node_defs: Mapping[str, int]) -> Node:
    fields = _folded(item, f"node {index}")
    node_id = _text(fields, "ID", f"node {index}") or ""
    uses = _text(fields, "Uses", f"node {node_id!r}", required=False)
    uses = uses or _text(fields, "DefName", f"node {node_id!r}", required=False)
    if uses is None:
        raise FlowInvalid(f"node {node_id!r}: Uses is required")
    if uses not in node_defs:
        raise FlowInvalid(f"node {node_id!r} uses {uses!r}, which no node def provides")
    inputs = tuple(
        _text(_folded(edge, f"node {node_id!r} input"), "Edge", f"node {node_id!r} input") or ""
        for edge in _list(fields.get("inputs"), f"node {node_id!r} Inputs")
    )
    outputs = []
    for edge in _list(fields.get("outputs"), f"node {node_id!r} Outputs"):
        edge_fields = _folded(edge, f"node {node_id!r} output")
        outputs.append(
            (
                _text(edge_fields, "Edge", f"node {node_id!r} output") or "",
                _text(edge_fields, "Store", f"node {node_id!r} output", required=False),
            )
        )
    return Node(node_id, uses, inputs, tuple(outputs), node_defs[uses])
