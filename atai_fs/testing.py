"""The pytest plugin: offline tests of a pipeline against a running emulator.

Installed with the package and registered through the ``pytest11`` entry point, so any
test can take these fixtures with no import and no ``conftest.py``:

``atai_emulator``, ``flow_emulator``, ``sandbox_emulator``, ``aionvision_emulator``
    The emulator of that API (:mod:`atai_fs.emulator`), running on 127.0.0.1 for the
    test and stopped after it, with the protocol's environment variables pointing at it
    for the test's duration, so ``df.to_parquet("atai://x.parquet")`` needs no storage
    options. The fixture is the emulator itself: ``.endpoint_url``, ``.api_key``,
    ``.stats`` (live counters), ``.faults`` (``.faults.add(...)`` to inject one), and
    what each API keeps: ``.uploads`` and ``.orphans()`` (ATAI), ``.sessions`` and
    ``.orphans()`` (sandbox), ``.files`` and ``.orphans()`` (Aionvision), ``.runs`` and
    ``.uploaded(run, edge)`` (flow, whose uploads are single PUTs that cannot be left
    half-done). ``orphans() == []`` asserts the pipeline left no upload open.

``atai_emulator_options`` (and ``flow_``, ``sandbox_``, ``aionvision_``)
    The emulator's keyword options, ``{}`` by default. Override one in a ``conftest.py``
    or a test module to change the emulator (``{"part_size": 64 * 1024}``,
    ``{"profile": "strict"}``, ``{"faults": [...]}``); without ``data_dir`` its data
    lives in the test's temporary directory.

The variables set are the ones each filesystem reads (its ``api_key_variable``,
``endpoint_variable`` and ``rate_limit_variable``): ``ATAI_API_KEY``,
``ATAI_API_ENDPOINT``, ``ATAI_RATE_LIMIT``; ``FLOW_API_ENDPOINT``; ``SANDBOX_API_KEY``,
``SANDBOX_API_ENDPOINT``; ``AIONVISION_API_KEY``, ``AIONVISION_API_ENDPOINT``,
``AIONVISION_RATE_LIMIT``. The rate-limit variable follows the emulator: ``off`` when it
enforces no limit (pacing to the real service's limits would only slow the test), unset
when it does (``rate_limit=True``, the strict profile), so the client paces as it would
against the service.

Importing this module imports nothing but pytest: the emulators and the client are
imported inside the fixtures, so a test session that uses none of them pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from .emulator._shared.server import BackgroundServer
    from .emulator.aionvision import AionVisionEmulator
    from .emulator.atai import ATAIEmulator
    from .emulator.flow import FlowEmulator
    from .emulator.sandbox import SandboxEmulator
    from .fs.base import UploadFileSystem

    E = TypeVar("E", bound=BackgroundServer[Any, Any])

__all__ = [
    "aionvision_emulator",
    "aionvision_emulator_options",
    "atai_emulator",
    "atai_emulator_options",
    "flow_emulator",
    "flow_emulator_options",
    "sandbox_emulator",
    "sandbox_emulator_options",
]


def _serving(
    emulator_type: type[E],
    filesystem_type: type[UploadFileSystem],
    options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[E]:
    """Run one emulator for a test, the protocol's variables pointing at it meanwhile."""
    options = dict(options)
    if options.get("data_dir") is None:
        options["data_dir"] = tmp_path_factory.mktemp(filesystem_type.protocol[0] + "-emulator")
    with emulator_type(**options) as emulator:
        if filesystem_type.api_key_variable:
            monkeypatch.setenv(filesystem_type.api_key_variable, emulator.api_key)
        if filesystem_type.endpoint_variable:
            monkeypatch.setenv(filesystem_type.endpoint_variable, emulator.endpoint_url)
        if filesystem_type.rate_limit_variable:
            if getattr(emulator.config, "rate_limit", False):
                monkeypatch.delenv(filesystem_type.rate_limit_variable, raising=False)
            else:
                monkeypatch.setenv(filesystem_type.rate_limit_variable, "off")
        yield emulator


@pytest.fixture
def atai_emulator_options() -> dict[str, Any]:
    """Keyword options of :class:`~atai_fs.emulator.ATAIEmulator` (override to change)."""
    return {}


@pytest.fixture
def atai_emulator(
    atai_emulator_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ATAIEmulator]:
    """A Files API emulator for this test; ``ATAI_API_KEY`` and ``ATAI_API_ENDPOINT``
    point at it."""
    from .emulator.atai import ATAIEmulator
    from .fs.atai import ATAIFileSystem

    yield from _serving(
        ATAIEmulator, ATAIFileSystem, atai_emulator_options, tmp_path_factory, monkeypatch
    )


@pytest.fixture
def flow_emulator_options() -> dict[str, Any]:
    """Keyword options of :class:`~atai_fs.emulator.flow.FlowEmulator`."""
    return {}


@pytest.fixture
def flow_emulator(
    flow_emulator_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FlowEmulator]:
    """A flow controller and object store for this test; ``FLOW_API_ENDPOINT`` points
    at it (the API has no keys)."""
    from .emulator.flow import FlowEmulator
    from .fs.flow import FlowFileSystem

    yield from _serving(
        FlowEmulator, FlowFileSystem, flow_emulator_options, tmp_path_factory, monkeypatch
    )


@pytest.fixture
def sandbox_emulator_options() -> dict[str, Any]:
    """Keyword options of :class:`~atai_fs.emulator.sandbox.SandboxEmulator`."""
    return {}


@pytest.fixture
def sandbox_emulator(
    sandbox_emulator_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SandboxEmulator]:
    """A Nullspace sandbox upload API for this test; ``SANDBOX_API_KEY`` and
    ``SANDBOX_API_ENDPOINT`` point at it."""
    from .emulator.sandbox import SandboxEmulator
    from .fs.sandbox import SandboxFileSystem

    yield from _serving(
        SandboxEmulator, SandboxFileSystem, sandbox_emulator_options, tmp_path_factory, monkeypatch
    )


@pytest.fixture
def aionvision_emulator_options() -> dict[str, Any]:
    """Keyword options of :class:`~atai_fs.emulator.aionvision.AionVisionEmulator`."""
    return {}


@pytest.fixture
def aionvision_emulator(
    aionvision_emulator_options: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[AionVisionEmulator]:
    """An Aionvision Uploads API for this test; ``AIONVISION_API_KEY`` and
    ``AIONVISION_API_ENDPOINT`` point at it."""
    from .emulator.aionvision import AionVisionEmulator
    from .fs.aionvision import AionVisionFileSystem

    yield from _serving(
        AionVisionEmulator,
        AionVisionFileSystem,
        aionvision_emulator_options,
        tmp_path_factory,
        monkeypatch,
    )
