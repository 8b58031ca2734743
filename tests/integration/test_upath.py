"""universal_pathlib's UPath works on atai:// paths (and the other protocols'), through
path classes the package registers, so it never warns about an unknown filesystem."""

from __future__ import annotations

import subprocess
import textwrap

from upath import UPath

from tests.conftest import BOTH_PROFILES
from tests.support.fresh_install import clean_environment

PROTOCOLS = {
    "atai://runs/x.parquet": "ATAIPath",
    "flow://RUN_ID/input-image": "FlowPath",
    "sandbox://sb_1/workspace/model.bin": "SandboxPath",
    "aionvision://photo.jpg": "AionVisionPath",
}


@BOTH_PROFILES
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


def test_upath_writes_into_a_sandbox(sandbox_emulator):
    path = UPath("sandbox://sb_1/workspace/model.bin")
    path.write_bytes(b"weights")
    assert sandbox_emulator.read_file("sb_1", "/workspace/model.bin") == b"weights"
    assert path.parent.name == "workspace"


def test_every_protocol_has_a_registered_path_class_and_no_warning(installed_python):
    script = textwrap.dedent(
        f"""
        import warnings

        warnings.simplefilter("error")
        from upath import UPath

        for url, name in {PROTOCOLS!r}.items():
            path = UPath(url)
            assert type(path).__module__ == "atai_fs.paths", (url, type(path))
            assert type(path).__name__ == name, (url, type(path))
            assert str(path) == url
        """
    )
    result = subprocess.run(
        [str(installed_python), "-c", script],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
