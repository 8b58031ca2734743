"""universal_pathlib's UPath works on atai:// paths."""

from __future__ import annotations

import pytest
from upath import UPath

from tests.conftest import BOTH_PROFILES

pytestmark = BOTH_PROFILES


# universal_pathlib serves protocols it does not know with its generic implementation.
@pytest.mark.filterwarnings("ignore:UPath 'atai' filesystem not explicitly implemented")
def test_upath_reads_writes_and_lists(emulator):
    options = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url}
    path = UPath("atai://runs/x.parquet", **options)
    path.write_bytes(b"parquet bytes")
    assert path.read_bytes() == b"parquet bytes"
    assert path.exists()
    assert path.stat().st_size == len(b"parquet bytes")
    assert [p.name for p in UPath("atai://runs/", **options).iterdir()] == ["x.parquet"]
    path.unlink()
    assert not path.exists()
