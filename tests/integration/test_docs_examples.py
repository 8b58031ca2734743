"""The examples of ``README.md`` and the ``docs/`` pages listed in ``PAGES`` run as
written.

Fenced ``python`` blocks whose first line is ``# runnable`` run in order in one
namespace per page, in a temporary working directory, with ``ATAI_API_KEY`` and
``ATAI_API_ENDPOINT`` pointing at the emulator.  Blocks whose first line is
``# runnable-pytest`` are test modules: each runs in its own pytest process.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import fsspec.config
import pytest

from atai_fs import ATAIFileSystem

ROOT = Path(__file__).resolve().parents[2]
PAGES = {
    "README.md": ROOT / "README.md",
    "integrations.md": ROOT / "docs" / "integrations.md",
    "atai.md": ROOT / "docs" / "atai.md",
    "aionvision.md": ROOT / "docs" / "aionvision.md",
    "sandbox.md": ROOT / "docs" / "sandbox.md",
    "async.md": ROOT / "docs" / "async.md",
}

_FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)

pytestmark = [
    pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword"),
]


def blocks(page: str, marker: str) -> list[tuple[str, str]]:
    """(``page:line``, code) of the blocks of ``page`` whose first line is ``marker``."""
    text = PAGES[page].read_text()
    found = []
    for match in _FENCE.finditer(text):
        code = match.group(1)
        if code.splitlines()[0].strip() == marker:
            found.append((f"{page}:{text.count(chr(10), 0, match.start()) + 2}", code))
    return found


def test_the_docs_have_runnable_examples():
    assert len(blocks("integrations.md", "# runnable")) >= 8
    assert blocks("integrations.md", "# runnable-pytest")
    assert blocks("README.md", "# runnable-pytest")
    assert blocks("atai.md", "# runnable")
    assert blocks("aionvision.md", "# runnable")
    assert blocks("sandbox.md", "# runnable")
    assert blocks("async.md", "# runnable")
    assert blocks("README.md", "# runnable")


@pytest.fixture
def in_a_sandbox(emulator, monkeypatch, tmp_path):
    """Environment of the examples: emulator credentials, a scratch directory, an
    fsspec configuration and instance cache that are restored afterwards."""
    monkeypatch.setenv("ATAI_API_KEY", emulator.api_key)
    monkeypatch.setenv("ATAI_API_ENDPOINT", emulator.endpoint_url)
    monkeypatch.setattr(fsspec.config, "conf", copy.deepcopy(fsspec.config.conf))
    monkeypatch.chdir(tmp_path)
    ATAIFileSystem.clear_instance_cache()
    yield
    ATAIFileSystem.clear_instance_cache()


@pytest.mark.parametrize("page", sorted(PAGES))
def test_runnable_examples_run(page, in_a_sandbox):
    namespace: dict[str, object] = {"__name__": "docs_examples"}
    for where, code in blocks(page, "# runnable"):
        exec(compile(code, where, "exec"), namespace)


@pytest.mark.parametrize(
    "where,code",
    [block for page in sorted(PAGES) for block in blocks(page, "# runnable-pytest")],
    ids=lambda v: v[:20],
)
def test_runnable_test_modules_pass(where, code, tmp_path):
    (tmp_path / "test_from_docs.py").write_text(code)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATAI_API", "FSSPEC_"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{where}\n{result.stdout}\n{result.stderr}"
