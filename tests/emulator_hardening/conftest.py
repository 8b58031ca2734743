"""Emulators run as users run them: ``atai-fs serve API ...`` in a subprocess.

The server-level guarantees (Host check, timeouts, connection cap) belong to the
served process, so these tests start the real command and talk to it over raw sockets
or HTTP on loopback.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

KEY = "hardening-key"

PREFIXES = {"atai": "/v0.5", "flow": "/api/v1", "sandbox": "", "aionvision": "/api/v2"}
"""Path of each API under its origin (what the endpoint URL ends with)."""

KEYED = ("atai", "sandbox", "aionvision")
"""The APIs that take a bearer key (flow's controller has none)."""

_STARTUP_LINES = 20
"""Lines of start-up output read while looking for the endpoint URL."""


@dataclass(frozen=True)
class Served:
    """One ``atai-fs serve`` process and where it listens."""

    api: str
    port: int
    endpoint_url: str

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEY}"} if self.api in KEYED else {}

    def connect(self, timeout: float = 30.0) -> socket.socket:
        """A raw connection to the server; reads give up after ``timeout`` seconds."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes the connection: True when it did (end of stream or a
    reset) before the socket's own timeout, False when it held the connection open."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def serve_command(api: str, *options: str) -> list[str]:
    command = [sys.executable, "-m", "atai_fs.cli", "serve", api, "--port", "0"]
    if api in KEYED:
        command += ["--api-key", KEY]
    return command + list(options)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``atai-fs serve API OPTIONS...``; every process is stopped at teardown."""
    processes: list[subprocess.Popen[str]] = []

    def start(api: str, *options: str) -> Served:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        process = subprocess.Popen(
            [*serve_command(api, *options), "--data-dir", str(tmp_path / f"{api}-data")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
        )
        processes.append(process)
        assert process.stdout is not None
        for _ in range(_STARTUP_LINES):
            line = process.stdout.readline()
            found = re.search(r"http://127\.0\.0\.1:(\d+)\S*", line)
            if found:
                return Served(api, int(found.group(1)), found.group(0))
            if not line:
                break
        raise AssertionError(f"atai-fs serve {api} printed no endpoint URL")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)
