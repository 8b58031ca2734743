"""moto's S3 server in a subprocess on 127.0.0.1: a second, independent S3 implementation.

What it proves and what not (measured): it keeps multipart uploads as S3 does and judges
``CompleteMultipartUpload`` (``InvalidPart`` for a token that is not the part's ETag,
``EntityTooSmall`` for a part under 5 MiB but the last), honours ``Range`` and answers S3's
XML errors; it does not check presigned signatures or their expiry (a tampered or expired
URL gets 200), so expiry tests stay on the built-in storage.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "atai-fs-tests",
    "AWS_SECRET_ACCESS_KEY": "atai-fs-tests-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""What boto3 needs to sign; moto accepts any."""
_START_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Run ``moto.server`` until the block ends; yields its endpoint URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(endpoint, process)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(endpoint: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto.server exited with {process.returncode} at start")
        try:
            with urllib.request.urlopen(endpoint + "/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers: up
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto.server did not answer within {_START_TIMEOUT:g} s")
