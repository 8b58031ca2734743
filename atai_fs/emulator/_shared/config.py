"""What every emulator's configuration has: where it keeps its data, how slow it is, and
the faults it starts with."""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Generic

from .faults import BaseFault, F


def new_signing_secret() -> bytes:
    """A fresh presigned-URL key: fresh per emulator, so URLs never outlive it."""
    return secrets.token_bytes(32)


@dataclass(frozen=True)
class ServedConfig(Generic[F]):
    """The options every emulator takes; each API's configuration adds its own.

    ``data_dir`` must be a real directory here; the emulator's runner is the layer that
    turns ``None`` into a temporary directory.
    """

    FAULT_TYPE: ClassVar[type[BaseFault]]
    """The API's fault class: ``faults`` (objects or their text) are read as these."""

    data_dir: Path
    latency: float = 0.0
    """Seconds added before every request, API and storage alike."""
    faults: tuple[F, ...] = ()
    """Faults active from the start; more can be added while running (``emu.faults``)."""
    seed: int | None = 0
    """Seed of the fault injector's RNG: the same seed and requests give the same failures."""
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    """Where the emulator's time comes from (seconds): fault windows (``start``,
    ``duration``) and, where an API has one, its rate limit.  A test may share a virtual
    clock with the client to play an outage of minutes in a moment."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "faults", self.FAULT_TYPE.coerce_all(self.faults))
        if not (math.isfinite(self.latency) and self.latency >= 0):
            raise ValueError(
                f"latency must be a non-negative number of seconds, got {self.latency}"
            )
