"""The emulator subprocess as the harness sees it: endpoint, counters, CPU time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

_REPO = Path(__file__).resolve().parents[1]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class EmulatorProcess:
    """``python -m benchmarks.serve_emulator`` running with ``options``.

    ``mark()`` before a client run, then ``stats()`` after it: the emulator's counters
    for that run alone. ``cpu_seconds()`` is the process's user+sys time so far (from
    ``/proc/PID/stat``), so a run's emulator CPU is the difference around it.
    """

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""
        self.api_key = ""
        self._stats_url = ""

    def start(self) -> EmulatorProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serve_emulator", json.dumps(self.options)],
            cwd=_REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._process.wait()
            raise RuntimeError(f"the emulator exited at start ({self._process.returncode})")
        ready = json.loads(line)
        self.endpoint_url = ready["endpoint_url"]
        self.api_key = ready["api_key"]
        self._stats_url = ready["stats_url"]
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._process is not None, "the emulator is not running"
        return self._process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the emulator process so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        # Fields after the parenthesised command name; utime and stime are 14 and 15.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def mark(self) -> None:
        """Zero the counters: what ``stats()`` reports starts here."""
        self._call("POST", "/mark")

    def stats(self) -> dict[str, Any]:
        """Counters since the last mark, with ``upload_states`` of uploads started since."""
        return self._call("GET", "/stats")

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self._stats_url + path, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
