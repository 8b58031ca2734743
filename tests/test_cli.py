"""The atai-fs command: serve runs the emulator in the foreground, demo round-trips."""

from __future__ import annotations

import re
import subprocess
import sys

from atai_fs import ATAIFileSystem
from atai_fs.cli import main


def test_serve_runs_a_usable_emulator(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable, "-m", "atai_fs.cli", "serve",
            "--port", "0", "--data-dir", str(tmp_path), "--api-key", "cli-key",
            "--part-size", "64KiB", "--part-number-base", "0",
            "--fault", "route=storage_put,action=status,status=503,nth=2",
            "--latency", "0.001",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        endpoint = re.search(r"http://\S+/v0\.5", line).group(0)
        fs = ATAIFileSystem(api_key="cli-key", endpoint_url=endpoint, skip_instance_cache=True)
        data = bytes(range(256)) * 1000
        fs.pipe_file("atai://served/file.bin", data)
        assert fs.cat_file("atai://served/file.bin") == data
    finally:
        process.terminate()
        process.wait(timeout=30)
    # Files persist in the data directory across restarts of the server.
    assert any(tmp_path.rglob("*"))


def test_demo_prints_a_successful_round_trip(capsys):
    assert main(["demo", "--rows", "20000"]) == 0
    out = capsys.readouterr().out
    assert "identical DataFrame" in out
    assert "atai://demo/measurements.parquet" in out


def test_usage_errors_exit_with_2(capsys):
    try:
        main(["no-such-command"])
    except SystemExit as exit:
        assert exit.code == 2
    else:  # pragma: no cover
        raise AssertionError("argparse should have exited")
