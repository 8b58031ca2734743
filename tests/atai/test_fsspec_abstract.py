"""fsspec's own behaviour suite, run against atai:// over the emulator.

The same tests fsspec runs for its in-memory and local filesystems; a flat upload store
has no empty directories, which the suite supports through
``supports_empty_directories``.
"""

from __future__ import annotations

import posixpath

import fsspec.tests.abstract as abstract
import pytest

from atai_fs import ATAIFileSystem
from atai_fs.emulator import ATAIEmulator


@pytest.fixture(scope="module")
def _module_emulator(tmp_path_factory):
    with ATAIEmulator(data_dir=tmp_path_factory.mktemp("abstract"), part_size=4096) as emu:
        yield emu


class AtaiFixtures(abstract.AbstractFixtures):
    @pytest.fixture
    def fs(self, _module_emulator):
        return ATAIFileSystem(
            api_key=_module_emulator.api_key,
            endpoint_url=_module_emulator.endpoint_url,
            skip_instance_cache=True,
        )

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self):
        return "abstract-suite"

    @pytest.fixture
    def supports_empty_directories(self):
        return False


class TestAtaiCopy(abstract.AbstractCopyTests, AtaiFixtures):
    pass


class TestAtaiGet(abstract.AbstractGetTests, AtaiFixtures):
    pass


class TestAtaiPut(abstract.AbstractPutTests, AtaiFixtures):
    pass


class TestAtaiOpen(abstract.AbstractOpenTests, AtaiFixtures):
    pass


class TestAtaiPipe(abstract.AbstractPipeTests, AtaiFixtures):
    pass
