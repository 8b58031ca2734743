"""An emulator's --data-dir is the user's: only folders an emulator created are emptied.

Regression: each emulator wiped a one-run folder under ``data_dir`` at start-up
(``parts``, ``objects``, ``staging``, ``storage``), whatever it held.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from atai_fs.emulator.aionvision import AionVisionEmulator
from atai_fs.emulator.atai import ATAIEmulator
from atai_fs.emulator.flow import FlowEmulator
from atai_fs.emulator.sandbox import SandboxEmulator

REPO = Path(__file__).resolve().parents[1]

SCRATCH_FOLDERS = [
    pytest.param(ATAIEmulator, "parts", id="atai"),
    pytest.param(FlowEmulator, "objects", id="flow"),
    pytest.param(SandboxEmulator, "staging", id="sandbox"),
    pytest.param(AionVisionEmulator, "storage", id="aionvision"),
]


def user_folder(data_dir: Path, name: str) -> Path:
    folder = data_dir / name
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "thesis.txt").write_text("years of work")
    return folder


@pytest.mark.parametrize(("emulator_class", "folder"), SCRATCH_FOLDERS)
def test_a_users_folder_refuses_the_start_and_survives(tmp_path, emulator_class, folder):
    mine = user_folder(tmp_path, folder)
    emulator = emulator_class(tmp_path)
    with pytest.raises(FileExistsError, match="not created by an atai-fs emulator") as info:
        emulator.start()
    assert str(mine) in str(info.value)
    assert "--data-dir" in str(info.value)
    assert (mine / "notes" / "thesis.txt").read_text() == "years of work"
    assert sorted(p.name for p in mine.rglob("*")) == ["notes", "thesis.txt"]


@pytest.mark.parametrize(("emulator_class", "folder"), SCRATCH_FOLDERS)
def test_its_own_folder_of_an_earlier_run_is_emptied_and_reused(tmp_path, emulator_class, folder):
    with emulator_class(tmp_path):
        pass
    scratch = tmp_path / folder
    (scratch / "left-over-part").write_bytes(b"stale")
    (scratch / "sub").mkdir()
    with emulator_class(tmp_path) as emulator:
        assert emulator.port is not None
        assert not (scratch / "left-over-part").exists()
        assert not (scratch / "sub").exists()


def test_atai_fs_serve_exits_1_naming_the_folder_and_keeps_it(tmp_path):
    mine = user_folder(tmp_path, "staging")
    result = subprocess.run(
        [
            sys.executable, "-m", "atai_fs.cli", "serve", "sandbox",
            "--port", "0", "--data-dir", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("atai-fs: error:")
    assert str(mine) in line and "--data-dir" in line
    assert (mine / "notes" / "thesis.txt").read_text() == "years of work"
