"""atai-fs cp / ls / rm / info / cat against the emulator, and the progress bars in a pty."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from atai_fs.cli import main
from atai_fs.emulator import ATAIEmulator
from tests.conftest import download, stored_names


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


@pytest.mark.parametrize("command", ["cp", "mv", "ls", "du", "rm", "info", "cat", "serve", "demo"])
def test_every_command_help_says_what_it_does_and_what_each_argument_is(command):
    result = subprocess.run(
        [sys.executable, "-m", "atai_fs.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    usage, description, *sections = result.stdout.split("\n\n")
    assert usage.startswith(f"usage: atai-fs {command}")
    assert not description.startswith(("positional arguments:", "options:")), result.stdout
    assert len(description.split()) >= 8, result.stdout
    positionals = [s for s in sections if s.startswith("positional arguments:")]
    lines = positionals[0].splitlines()[1:] if positionals else []
    for number, line in enumerate(lines):  # an entry, its help beside it or indented below
        if line.startswith("  ") and not line.startswith("   "):
            wrapped = number + 1 < len(lines) and lines[number + 1].startswith("   ")
            assert len(line.split()) >= 2 or wrapped, f"{command}: {line.strip()} has no help"


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


def in_terminal(args, env=None, *, interrupt_when=None, seconds=120, shape=(24, 120)):
    """Run ``atai-fs ARGS`` on a pseudo-terminal of ``shape`` (rows, columns); returns its
    exit code and everything it drew.  ``interrupt_when(screen)`` true sends it Ctrl-C."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", *shape, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "atai_fs.cli", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, **(env or {})},
    )
    os.close(terminal)
    output = b""
    interrupted = False
    deadline = time.monotonic() + seconds  # a bound on a hung child, not a measurement
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if interrupt_when and not interrupted and interrupt_when(output.decode(errors="replace")):
            process.send_signal(signal.SIGINT)
            interrupted = True
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    return code, output.decode(errors="replace")


_SCALE = {"": 1, "k": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def bytes_shown(screen: str, total: str) -> list[float]:
    """Every byte count a tqdm bar drew against ``total`` (e.g. ``"6.00M"``), in order."""
    found = re.findall(r"(\d+(?:\.\d+)?)([kMG]?)/" + re.escape(total) + r" \[", screen)
    return [float(number) * _SCALE[unit] for number, unit in found]


def endpoint_env(emulator) -> dict[str, str]:
    return {"ATAI_API_KEY": emulator.api_key, "ATAI_API_ENDPOINT": emulator.endpoint_url}


@pytest.fixture
def slow_emulator(tmp_path):
    """Parts of 1 MiB through a 2 MB/s link: an upload of a few MiB takes seconds."""
    with ATAIEmulator(
        data_dir=tmp_path / "slow", part_size=1 << 20, link_bandwidth=2e6, put_bandwidth=2e6
    ) as emu:
        yield emu


def test_progress_bar_in_a_real_terminal(env, tmp_path):
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(8 << 20))
    code, screen = in_terminal(["cp", str(source), "atai://bar/big.bin"])
    assert code == 0
    assert "\r" in screen  # redrawn in place
    assert "big.bin" in screen and "100%" in screen and "8.00M/8.00M" in screen
    assert "files" not in screen  # one file, one bar: no total beside it
    assert screen.endswith("\n")
    assert download(env, "bar/big.bin") == source.read_bytes()


@pytest.mark.parametrize("shape", [(0, 0), (0, 120), (24, 0)])
def test_a_terminal_that_reports_no_size_still_gets_a_whole_bar(env, tmp_path, shape):
    """A container's pseudo-terminal before its first resize says 0 x 0: tqdm alone
    would draw nothing there (0 rows) or a bar cut off (0 columns)."""
    source = tmp_path / "sized.bin"
    source.write_bytes(os.urandom(2 << 20))
    code, screen = in_terminal(["cp", str(source), "atai://sized.bin"], shape=shape)
    assert code == 0
    assert "sized.bin: 100%" in screen and "2.00M/2.00M [" in screen
    assert screen.rstrip().endswith("B/s]"), screen[-200:]


def test_progress_moves_while_a_large_part_is_sent(tmp_path):
    # One part, read by the emulator at 8 MB/s; loopback's socket buffers take the first
    # several MB at once, so the part is larger than they can hold.
    size = 24 << 20
    source = tmp_path / "one-part.bin"
    source.write_bytes(os.urandom(size))
    with ATAIEmulator(data_dir=tmp_path / "emu", part_size=size, put_bandwidth=8e6) as emu:
        code, screen = in_terminal(
            ["cp", "-o", "chunk_size=64KiB", str(source), "atai://one-part.bin"],
            endpoint_env(emu),
        )
        assert code == 0
        assert emu.stats.part_puts == 1
    shown = bytes_shown(screen, "24.0M")
    assert shown == sorted(shown)
    assert shown[-1] == size
    assert len({value for value in shown if 0 < value < size}) >= 3, screen


def test_several_files_each_show_their_bar_and_a_total(env, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a.bin", "b.bin", "c.bin"):
        (tree / name).write_bytes(os.urandom(300_000))
    code, screen = in_terminal(["cp", "-r", str(tree), "atai://many/"])
    assert code == 0
    assert "3/3 files" in screen
    assert all(name in screen for name in ("a.bin", "b.bin", "c.bin"))
    assert download(env, "many/tree/b.bin") == (tree / "b.bin").read_bytes()


def test_an_interrupted_upload_ends_its_line_and_says_how_to_resume(slow_emulator, tmp_path):
    source = tmp_path / "big upload.bin"
    source.write_bytes(os.urandom(6 << 20))
    key = slow_emulator.api_key
    args = ["cp", "-o", f"api_key={key}", str(source), "atai://big.bin"]
    endpoint = {"ATAI_API_ENDPOINT": slow_emulator.endpoint_url}
    code, screen = in_terminal(
        args,
        endpoint,
        # Once the upload exists on the server (the bar shows before that).
        interrupt_when=lambda screen: (
            bool(bytes_shown(screen, "6.00M"))
            and any(u.state == "in_progress" for u in slow_emulator.uploads.values())
        ),
    )
    assert code == 130
    # The command to rerun, said once, with the key hidden (it is the user's to give).
    command = shlex.join(["atai-fs", "cp", "-o", "api_key=...", str(source), "atai://big.bin"])
    assert screen.count(command) == 1, screen
    assert key not in screen
    said = "atai-fs: interrupted; 1 upload(s) left resumable, each said above"
    assert f"\n{said}" in screen  # on a line of its own
    assert "100%" not in screen  # the bar stops where the upload stopped
    assert "big.bin" not in stored_names(slow_emulator)
    code, screen = in_terminal(args, endpoint)
    assert code == 0
    assert download(slow_emulator, "big.bin") == source.read_bytes()


def test_quiet_suppresses_the_bar_even_in_a_terminal(env, tmp_path):
    source = tmp_path / "small.bin"
    source.write_bytes(b"x" * 1000)
    code, screen = in_terminal(["cp", "-q", str(source), "atai://q.bin"])
    assert code == 0
    assert screen == ""


def test_tqdm_disable_suppresses_the_bar(env, tmp_path):
    source = tmp_path / "small.bin"
    source.write_bytes(b"x" * 1000)
    code, screen = in_terminal(["cp", str(source), "atai://q.bin"], {"TQDM_DISABLE": "1"})
    assert code == 0
    assert screen == ""


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
