"""A clock for emulators (``clock=``) that moves only when a test moves it."""

from __future__ import annotations


class ManualClock:
    """The emulator's clock, moved by hand (``clock.now += 600``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
