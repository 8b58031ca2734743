"""The per-application bundle every handler works on."""

from __future__ import annotations

from dataclasses import dataclass

from .._shared.context import ContextKey
from .._shared.stats import EmulatorStats
from .._shared.storage import PresignedStorage
from .config import AionVisionConfig
from .faults import AionFaultInjector
from .state import Workspace


@dataclass
class AionContext:
    """Configuration, counters, storage and state of one emulated workspace."""

    config: AionVisionConfig
    stats: EmulatorStats
    storage: PresignedStorage
    workspace: Workspace
    faults: AionFaultInjector
    """Handlers ask it too: a ``reject`` fault is tried once per file of a batch."""


CONTEXT_KEY = ContextKey("aionvision_emulator_context", AionContext)
context_of = CONTEXT_KEY.of
