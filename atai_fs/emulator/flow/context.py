"""The per-application bundle the controller's handlers work on."""

from __future__ import annotations

from dataclasses import dataclass

from .._shared.context import ContextKey
from .config import FlowEmulatorConfig
from .runs import RunRegistry
from .store import FlowStore


@dataclass
class FlowContext:
    """Configuration, object store and runs of one emulated controller."""

    config: FlowEmulatorConfig
    store: FlowStore
    runs: RunRegistry


CONTEXT_KEY = ContextKey("atai_flow_emulator_context", FlowContext)
context_of = CONTEXT_KEY.of
