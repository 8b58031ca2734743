"""Fixtures shared by every test: a real emulator on loopback and a filesystem on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from atai_fs import ATAIFileSystem
from atai_fs.emulator import ATAIEmulator
from benchmarks import faults
from tests.sizes import PART_SIZE, S3_PART_SIZE
from tests.support.fresh_install import install_into_fresh_venv
from tests.support.moto import CREDENTIALS, moto_server
from tests.support.opaque_etags import OpaqueEtagFront, opaque_etag_front

# The fixtures users get (atai_emulator, flow_emulator, ...), also where the installed
# entry points predate them.
pytest_plugins = ("atai_fs.testing",)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Resume records go to a per-test cache directory, not the user's home; the
    emulator has no rate limit unless a test turns it on, so neither does the client."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ATAI_RATE_LIMIT", "off")


@pytest.fixture
def part_number_base() -> int:
    """The emulator's part numbering; tests parametrize it to cover 0- and 1-based APIs."""
    return 1


@pytest.fixture
def emulator_profile() -> str:
    """The emulator's profile. Suites that must hold whatever the service chose where the
    spec is open parametrize it with :data:`BOTH_PROFILES`."""
    return "default"


BOTH_PROFILES = pytest.mark.both_profiles
"""Run every test of a module (``pytestmark = BOTH_PROFILES``) or one test that uses the
``emulator`` against the default and the strict profile: opaque ETags, no Range,
redirected downloads, the documented rate limits with 429s lacking Retry-After, 30 s URLs,
pages of two."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_profiles: run against the default and the strict emulator profile"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_profiles") and (
        "emulator_profile" in metafunc.fixturenames
    ):
        metafunc.parametrize("emulator_profile", ["default", "strict"])


@pytest.fixture
def atai_emulator_options(part_number_base: int, emulator_profile: str) -> dict[str, Any]:
    """The options of the suite's ATAI emulators: ``emulator``, and the plugin's
    ``atai_emulator`` (the same, with the environment pointing at it)."""
    return {
        "part_size": PART_SIZE,
        "profile": emulator_profile,
        "part_number_base": part_number_base,
    }


@pytest.fixture
def emulator(
    tmp_path_factory: pytest.TempPathFactory,
    atai_emulator_options: dict[str, Any],
    emulator_profile: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ATAIEmulator]:
    if emulator_profile == "strict":
        # A service that enforces the documented limits meets the client's default pacing.
        monkeypatch.delenv("ATAI_RATE_LIMIT")
    with ATAIEmulator(data_dir=tmp_path_factory.mktemp("emulator"), **atai_emulator_options) as emu:
        yield emu


@pytest.fixture(scope="session")
def installed_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``python`` of a virtualenv holding this repository installed as a user would
    (its entry points as the install wrote them); see :mod:`tests.support.fresh_install`."""
    return install_into_fresh_venv(tmp_path_factory.mktemp("venv"))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server, one per test session (each emulator on it has its own key prefix)."""
    with moto_server() as endpoint:
        yield endpoint


S3_BUCKET = "atai-fs-tests"


@pytest.fixture
def make_s3_emulator(
    tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., ATAIEmulator]]:
    """Start ATAI emulators whose storage is moto's S3 (``endpoint=`` another S3 front);
    all stop at teardown."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    with ExitStack() as stack:

        def make(endpoint: str | None = None, **options: Any) -> ATAIEmulator:
            options.setdefault("part_size", S3_PART_SIZE)
            return stack.enter_context(
                ATAIEmulator(
                    data_dir=tmp_path_factory.mktemp("s3-emulator"),
                    storage="s3",
                    bucket=S3_BUCKET,
                    s3_endpoint_url=endpoint or moto_endpoint,
                    s3_prefix=f"{uuid.uuid4().hex}/",
                    **options,
                )
            )

        yield make


@pytest.fixture
def s3_atai_emulator(make_s3_emulator: Callable[..., ATAIEmulator]) -> ATAIEmulator:
    """The ATAI emulator in front of moto's S3: real multipart uploads, S3's judgement."""
    return make_s3_emulator()


@pytest.fixture
def opaque_front(moto_endpoint: str) -> Iterator[tuple[str, OpaqueEtagFront]]:
    """A front before moto answering random 32-hex part ETags (never the MD5)."""
    with opaque_etag_front(moto_endpoint) as front:
        yield front


@pytest.fixture
def opaque_s3_atai_emulator(
    make_s3_emulator: Callable[..., ATAIEmulator], opaque_front: tuple[str, OpaqueEtagFront]
) -> ATAIEmulator:
    """The ATAI emulator on moto seen through :func:`opaque_front`."""
    return make_s3_emulator(endpoint=opaque_front[0])


def make_fs(emulator: ATAIEmulator, **options) -> ATAIFileSystem:
    """A fresh (uncached) filesystem on ``emulator`` with extra storage options."""
    return ATAIFileSystem(
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        skip_instance_cache=True,
        **options,
    )


@pytest.fixture
def fs(emulator: ATAIEmulator) -> ATAIFileSystem:
    return make_fs(emulator)


def wait_for(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it holds (for effects that happen on another thread)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def download(emulator: ATAIEmulator, name: str) -> bytes:
    """Fetch a file's bytes over HTTP from the emulator's download endpoint (following a
    redirect to storage without the key, as S3 demands)."""
    return faults.download(emulator, name)


def stored_names(emulator: ATAIEmulator) -> set[str]:
    """Every file name the emulator lists (through its metadata endpoint)."""
    return faults.stored_names(emulator)
