"""The per-application bundle every handler works on."""

from __future__ import annotations

from dataclasses import dataclass

from .._shared.context import ContextKey
from .._shared.stats import EmulatorStats
from .config import SandboxConfig
from .files import SandboxFiles
from .replays import Replays
from .state import SessionRegistry


@dataclass
class SandboxContext:
    """Configuration, counters, sessions and files of one emulated sandbox service."""

    config: SandboxConfig
    stats: EmulatorStats
    sessions: SessionRegistry
    replays: Replays
    files: SandboxFiles


CONTEXT_KEY = ContextKey("sandbox_emulator_context", SandboxContext)
context_of = CONTEXT_KEY.of
