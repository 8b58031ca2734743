"""The package installed from this repository into a virtualenv of its own, as a user's
``pip install atai-fs`` would: its entry points (fsspec protocols, the pytest plugin,
universal_pathlib's paths) come from the metadata that install writes, not from whatever
the running environment installed earlier.

Offline and bounded: ``pip install --no-deps --no-build-isolation -e ROOT`` builds with
the running environment's setuptools, and the dependencies are the running environment's
own, reached through a ``.pth`` file (so nothing is downloaded, and nothing of this
repository is importable but through the install).
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_INSTALL_TIMEOUT = 300.0
"""Seconds venv creation plus the editable build may take on a loaded machine."""


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no ``PYTHONPATH`` (which would make this checkout
    importable without the install) and none of the protocols' variables."""
    prefixes = ("ATAI_", "FLOW_", "SANDBOX_", "AIONVISION_", "FSSPEC_", "PYTEST_")
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith(prefixes)
    }
    return {**env, **extra}


def install_into_fresh_venv(where: Path) -> Path:
    """Create a virtualenv in ``where``, install this repository into it, return its
    ``python``."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(where)],
        check=True,
        timeout=_INSTALL_TIMEOUT,
    )
    python = where / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT,
    ).stdout.strip()
    dependencies = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    (Path(purelib) / "dependencies-of-the-running-environment.pth").write_text(
        "\n".join(sorted(dependencies)) + "\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-e",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=_INSTALL_TIMEOUT,
        env=clean_environment(),
    )
    assert result.returncode == 0, f"pip install -e failed:\n{result.stdout}\n{result.stderr}"
    return python
