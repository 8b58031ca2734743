"""Emulators of the upload APIs atai_fs writes to, for offline tests and demos.

Each is a real ``aiohttp.web`` server on loopback that follows its API's spec, never the
client's code, so the client cannot share its mistakes:

- :mod:`atai_fs.emulator.atai`: the Archetype AI Files API (:class:`ATAIEmulator`, also
  importable from here with its configuration, faults and ``serve``);
- :mod:`atai_fs.emulator.flow`: the flow engine's controller and object store
  (:class:`~atai_fs.emulator.flow.FlowEmulator`);
- :mod:`atai_fs.emulator.sandbox`: the Nullspace sandbox upload sessions
  (:class:`~atai_fs.emulator.sandbox.SandboxEmulator`);
- :mod:`atai_fs.emulator.aionvision`: the Aionvision Uploads API
  (:class:`~atai_fs.emulator.aionvision.AionVisionEmulator`).

What they share (presigned storage, fault injection, network shaping, rate limiting,
counters, the background server) lives in :mod:`atai_fs.emulator._shared`. Each API's
package docstring (``help(atai_fs.emulator.atai)``, ``.flow``, ``.sandbox``,
``.aionvision``) lists its options, its faults and the behaviour it chose for each open
point of its spec.

    from atai_fs.emulator import ATAIEmulator

    with ATAIEmulator(part_size=64 * 1024) as emu:
        emu.endpoint_url      # "http://127.0.0.1:PORT/v0.5", with emu.api_key
        emu.stats.part_puts   # live counters, see EmulatorStats
        emu.faults.add(route="complete", action="reset", nth=1)
        emu.orphans()         # uploads still in progress: tests assert there are none
"""

from . import atai
from .atai import *  # noqa: F403  (the Files API emulator's names, listed in its __all__)

__all__ = atai.__all__
