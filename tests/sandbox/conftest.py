"""Fixtures of the sandbox tests: a real sandbox emulator on loopback and a filesystem on it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from atai_fs.emulator.sandbox import SandboxEmulator
from atai_fs.fs.sandbox import SandboxFileSystem
from tests.sizes import PART_SIZE

SANDBOX = "sb_a1b2c3d4"


@pytest.fixture
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxEmulator]:
    with SandboxEmulator(tmp_path_factory.mktemp("sandbox-emulator"), part_size=PART_SIZE) as emu:
        yield emu


def make_fs(emulator: SandboxEmulator, **options: Any) -> SandboxFileSystem:
    """A fresh (uncached) filesystem on ``emulator`` with extra storage options."""
    options.setdefault("api_key", emulator.api_key)
    return SandboxFileSystem(
        endpoint_url=emulator.endpoint_url,
        skip_instance_cache=True,
        **options,
    )


@pytest.fixture
def fs(emulator: SandboxEmulator) -> SandboxFileSystem:
    return make_fs(emulator)


def url(path: str) -> str:
    """``sandbox://SANDBOX/path``."""
    return f"sandbox://{SANDBOX}/{path.lstrip('/')}"


def api(
    emulator: SandboxEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """One raw HTTP request to the emulator: (status, parsed JSON or None, headers)."""
    all_headers = {"Authorization": f"Bearer {emulator.api_key}", **(headers or {})}
    if key is not None:
        all_headers["Idempotency-Key"] = key
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        emulator.endpoint_url + path, data=data, method=method, headers=all_headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw, status, answer_headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as exc:
        raw, status, answer_headers = exc.read(), exc.code, exc.headers
    return status, (json.loads(raw) if raw else None), dict(answer_headers)


def create_body(target: str = "/workspace/raw.bin", length: int = 10, **extra: Any) -> dict:
    return {
        "kind": "file",
        "source_kind": "restartable_file",
        "target_path": target,
        "content_length": length,
        "conflict": "error",
        "checksum_algorithm": "sha256",
        **extra,
    }


def create_session(emulator: SandboxEmulator, **fields: Any) -> dict:
    status, body, _ = api(
        emulator,
        "POST",
        f"/v1/sandboxes/{SANDBOX}/uploads",
        create_body(**fields),
        key=str(uuid.uuid4()),
    )
    assert status == 200, body
    return body["session"]
