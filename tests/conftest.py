"""Fixtures shared by every test: a real emulator on loopback and a filesystem on it."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from atai_fs import ATAIFileSystem
from atai_fs.emulator import ATAIEmulator
from tests.sizes import PART_SIZE


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
def emulator(
    tmp_path_factory: pytest.TempPathFactory, part_number_base: int
) -> Iterator[ATAIEmulator]:
    with ATAIEmulator(
        data_dir=tmp_path_factory.mktemp("emulator"),
        part_size=PART_SIZE,
        part_number_base=part_number_base,
    ) as emu:
        yield emu


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
    """Fetch a file's bytes over HTTP from the emulator's download endpoint."""
    url = f"{emulator.endpoint_url}/files/download/{urllib.parse.quote(name, safe='')}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {emulator.api_key}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def stored_names(emulator: ATAIEmulator) -> set[str]:
    """Every file name the emulator lists (through its metadata endpoint)."""
    import json

    url = f"{emulator.endpoint_url}/files/metadata?limit=1000"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {emulator.api_key}"})
    names: set[str] = set()
    while True:
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.load(response)
        names.update(item["file_id"] for item in page["data"])
        if not page.get("has_more"):
            return names
        after = urllib.parse.quote(page["next_cursor"], safe="")
        request = urllib.request.Request(
            f"{url}&after={after}", headers={"Authorization": f"Bearer {emulator.api_key}"}
        )
