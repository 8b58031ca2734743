"""atai-fs cp / ls / rm / info / cat against the emulator, and the progress bar in a pty."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from atai_fs.cli import main
from tests.conftest import download


@pytest.fixture
def env(emulator, monkeypatch):
    monkeypatch.setenv("ATAI_API_KEY", emulator.api_key)
    monkeypatch.setenv("ATAI_API_ENDPOINT", emulator.endpoint_url)
    from atai_fs import ATAIFileSystem

    ATAIFileSystem.clear_instance_cache()
    return emulator


def test_cp_uploads_a_file_and_downloads_it_back(env, tmp_path, capsys):
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(300_000))
    assert main(["cp", str(source), "atai://runs/data.bin"]) == 0
    assert download(env, "runs/data.bin") == source.read_bytes()
    back = tmp_path / "back.bin"
    assert main(["cp", "atai://runs/data.bin", str(back)]) == 0
    assert back.read_bytes() == source.read_bytes()
    assert capsys.readouterr().out == ""  # no bar when stdout is not a terminal


def test_cp_recursive_and_globs(env, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    for name in ("a.csv", "b.csv", "sub/c.csv"):
        (tree / name).write_bytes(name.encode())
    assert main(["cp", "-r", str(tree), "atai://dataset/"]) == 0
    assert download(env, "dataset/tree/sub/c.csv") == b"sub/c.csv"
    assert main(["cp", str(tree / "*.csv"), "atai://flat/"]) == 0
    assert download(env, "flat/b.csv") == b"b.csv"
    local = tmp_path / "down"
    assert main(["cp", "-r", "atai://dataset/", str(local) + "/"]) == 0
    assert (local / "tree" / "sub" / "c.csv").read_bytes() == b"sub/c.csv"


def test_ls_long_shows_sizes_and_status(env, capsys):
    main(["cp", "/dev/null", "atai://x/empty.bin"])
    from atai_fs import ATAIFileSystem

    ATAIFileSystem(skip_instance_cache=True).pipe_file("x/big.bin", b"1" * 5000)
    capsys.readouterr()
    assert main(["ls", "-l", "atai://x/"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any("4.9 KiB" in line and "atai://x/big.bin" in line for line in out)
    assert all("FILE_STATUS" in line for line in out), out
    assert main(["ls", "atai://"]) == 0
    assert capsys.readouterr().out.split() == ["x/"]


def test_info_and_cat(env, capsys):
    from atai_fs import ATAIFileSystem

    ATAIFileSystem(skip_instance_cache=True).pipe_file("hello.txt", b"hello world")
    assert main(["info", "atai://hello.txt"]) == 0
    assert json.loads(capsys.readouterr().out)["size"] == 11
    assert main(["cat", "atai://hello.txt"]) == 0
    assert capsys.readouterr().out == "hello world"


def test_rm_needs_confirmation_unless_yes(env, capsys, monkeypatch):
    from atai_fs import ATAIFileSystem

    fs = ATAIFileSystem(skip_instance_cache=True)
    fs.pipe_file("old/a.bin", b"a")
    fs.pipe_file("old/b.bin", b"b")
    # No terminal to ask on: refuse rather than delete.
    assert main(["rm", "-r", "atai://old/"]) == 1
    assert "pass -y" in capsys.readouterr().err
    assert main(["rm", "-r", "-y", "atai://old/"]) == 0
    assert not fs.exists("old/a.bin")


def test_errors_are_one_line_with_exit_code_1(env, capsys):
    assert main(["cat", "atai://missing.bin"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("atai-fs: error:")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_help_everywhere():
    for command in ([], ["cp"], ["ls"], ["rm"], ["info"], ["cat"], ["serve"], ["demo"]):
        result = subprocess.run(
            [sys.executable, "-m", "atai_fs.cli", *command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0
        assert "usage: atai-fs" in result.stdout


def test_progress_bar_in_a_real_terminal(env, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(8 << 20))
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "atai_fs.cli", "cp", str(source), "atai://bar/big.bin"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=120) == 0
    os.close(controller)
    screen = output.decode(errors="replace")
    assert "\r" in screen  # redrawn in place
    assert "100%" in screen and "8.0 MiB/8.0 MiB" in screen
    assert "done in" in screen
    assert download(env, "bar/big.bin") == source.read_bytes()


def test_quiet_suppresses_the_bar_even_in_a_terminal(env, tmp_path):
    source = tmp_path / "small.bin"
    source.write_bytes(b"x" * 1000)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "atai_fs.cli", "cp", "-q", str(source), "atai://q.bin"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=60) == 0
    os.close(controller)
    assert output == b""


def test_commands_work_on_other_protocols(tmp_path, capsys, monkeypatch):
    from atai_fs.emulator.flow import FlowEmulator
    from atai_fs.fs.flow import FlowFileSystem
    from tests.flow.conftest import NODE_DEFS, image_resize_flow

    with FlowEmulator() as emu:
        monkeypatch.setenv("FLOW_API_ENDPOINT", emu.endpoint_url)
        fs = FlowFileSystem(skip_instance_cache=True)
        run_id = fs.start_run(image_resize_flow(), NODE_DEFS)["ID"]
        (edge,) = fs.ls(f"flow://{run_id}/", detail=False)
        assert main(["ls", "-l", f"flow://{run_id}/"]) == 0
        assert "waiting" in capsys.readouterr().out
        image = tmp_path / "frame.jpg"
        image.write_bytes(b"\xff\xd8\xff" + os.urandom(1000))
        assert main(["cp", str(image), f"flow://{edge}"]) == 0
        assert emu.uploaded(run_id, edge.split("/", 1)[1]) == image.read_bytes()
