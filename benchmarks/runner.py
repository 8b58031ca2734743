"""One client run: its own subprocess, measured together with the emulator around it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .emulator import EmulatorProcess

_REPO = Path(__file__).resolve().parents[1]
_STDERR_TAIL = 2000


@dataclass(frozen=True)
class Case:
    """One contender in a scenario.

    ``role`` names what it is (``atai``, ``official``, ``raw``...) so ratios can say "vs
    official"; a ratio compares cases of the same ``group`` (e.g. the same part size).
    ``emulator`` names the scenario's emulator profile it runs against.
    """

    label: str
    kind: str
    role: str
    params: dict[str, Any] = field(default_factory=dict)
    group: str = ""
    emulator: str = "main"


def run_case(
    case: Case, emulator: EmulatorProcess, timeout: float, temp_dir: Path | None = None
) -> dict[str, Any]:
    """Run ``case`` once; the record holds the client's JSON line and the emulator's side.

    ``temp_dir`` becomes the client's ``TMPDIR``: where atai_fs spools an unknown-size
    write is then the same storage as where the official client's recipe writes its
    local file first, so neither is compared on the other's disk."""
    env = {**os.environ, "TMPDIR": str(temp_dir)} if temp_dir is not None else None
    params = {"api_key": emulator.api_key, "endpoint_url": emulator.endpoint_url, **case.params}
    command = [sys.executable, "-m", "benchmarks.clients", case.kind, json.dumps(params)]
    emulator.mark()
    emulator_cpu = emulator.cpu_seconds()
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=_REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
        exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        exit_code, stdout, stderr = None, _text(exc.stdout), f"timed out after {timeout} s"
    process_wall = time.perf_counter() - started
    emulator_cpu = emulator.cpu_seconds() - emulator_cpu
    return {
        "case": case.label,
        "kind": case.kind,
        "process_wall": process_wall,
        "exit_code": exit_code,
        "client": _client_line(stdout, stderr),
        "emulator": {"cpu": emulator_cpu, **emulator.stats()},
    }


def _client_line(stdout: str, stderr: str) -> dict[str, Any]:
    """The client's last JSON line, or a record of one error saying why there is none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"errors": 1, "error_messages": [stderr[-_STDERR_TAIL:] or "no report"]}


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
