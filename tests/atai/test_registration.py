"""fsspec finds atai:// through the entry point, without importing atai_fs first."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import fsspec

from atai_fs import ATAIFileSystem
from tests.conftest import download


def test_fsspec_resolves_atai_in_a_fresh_process(emulator):
    script = textwrap.dedent(
        f"""
        import sys
        import fsspec
        assert "atai_fs" not in sys.modules
        with fsspec.open(
            "atai://from-subprocess.txt", "wb",
            api_key={emulator.api_key!r}, endpoint_url={emulator.endpoint_url!r},
        ) as f:
            f.write(b"resolved through the entry point")
        print(type(f.fs).__module__)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("atai_fs")
    assert download(emulator, "from-subprocess.txt") == b"resolved through the entry point"


def test_filesystem_class_and_protocol():
    assert fsspec.get_filesystem_class("atai") is ATAIFileSystem
    assert ATAIFileSystem.protocol == ("atai",)


def test_path_maps_to_api_file_name():
    assert ATAIFileSystem._strip_protocol("atai://runs/2026/x.parquet") == "runs/2026/x.parquet"
    assert ATAIFileSystem._strip_protocol("runs/x.csv") == "runs/x.csv"
    assert ATAIFileSystem._strip_protocol("atai:///x.csv") == "x.csv"
    assert ATAIFileSystem._strip_protocol("atai://") == ""


def test_repr_never_shows_the_api_key(emulator):
    fs = ATAIFileSystem(
        api_key="very-secret-key", endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )
    assert "very-secret-key" not in repr(fs)
    assert "very-secret-key" not in repr(fs.http)
