"""Complete and abort never interleave: an abort that arrives while a complete runs
waits for it, then is answered for the state it left. The file is published whole and
the abort refused, or the upload is cleanly aborted and the complete refused; never a
published name with its parts deleted under it.

The complete is held open by its own body: the client sends half of it, the test waits
until the emulator shows the complete running and the abort arrived, then sends the
rest."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from atai_fs.emulator import ATAIEmulator

PART = 1024
DATA = bytes(range(256)) * 8  # two parts

_POLLS = 600
_POLL_INTERVAL = 0.05


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (at most ``_POLLS`` times): the emulator's state, not a clock."""
    for _ in range(_POLLS):
        if condition():
            return
        time.sleep(_POLL_INTERVAL)
    raise AssertionError("the emulator never reached the awaited state")


@pytest.fixture
def emu() -> Iterator[ATAIEmulator]:
    with ATAIEmulator(part_size=PART) as emulator:
        yield emulator


def api(emu: ATAIEmulator, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method,
        emu.endpoint_url + path,
        headers={"Authorization": f"Bearer {emu.api_key}"},
        json=body,
        timeout=30,
    )


def uploaded(emu: ATAIEmulator, name: str) -> tuple[str, list[dict[str, Any]]]:
    """An upload of ``DATA`` with every part PUT: its id and the complete's part list."""
    init = api(
        emu,
        "POST",
        "/files/uploads/initiate",
        {"filename": name, "file_type": "application/octet-stream", "num_bytes": len(DATA)},
    ).json()
    tokens = []
    for part in init["parts"]:
        chunk = DATA[part["offset"] : part["offset"] + part["length"]]
        put = requests.put(part["url"], data=chunk, timeout=30)
        tokens.append({"part_number": part["part_number"], "part_token": put.headers["ETag"]})
    return init["upload_id"], tokens


class RawRequest:
    """One request over a bare socket, its body sent in pieces."""

    def __init__(self, emu: ATAIEmulator, method: str, path: str, body: bytes) -> None:
        assert emu.port is not None
        self.sock = socket.create_connection(("127.0.0.1", emu.port), timeout=30)
        head = (
            f"{method} /v0.5{path} HTTP/1.1\r\nHost: 127.0.0.1:{emu.port}\r\n"
            f"Authorization: Bearer {emu.api_key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        self.sock.sendall(head.encode())
        self.body = body

    def send(self, start: int, end: int | None = None) -> None:
        self.sock.sendall(self.body[start:end])

    def answer(self) -> tuple[int, Any]:
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        raw = response.read()
        self.sock.close()
        return response.status, (json.loads(raw) if raw else None)


def codes(body: Any) -> list[str]:
    return [error["code"] for error in body["errors"]]


def test_an_abort_during_a_complete_waits_and_finds_the_upload_completed(emu):
    upload_id, tokens = uploaded(emu, "race.bin")
    complete = RawRequest(
        emu, "POST", f"/files/uploads/{upload_id}/complete", json.dumps({"parts": tokens}).encode()
    )
    half = len(complete.body) // 2
    complete.send(0, half)
    wait_until(lambda: emu.uploads[upload_id].completing)

    abort = RawRequest(emu, "POST", f"/files/uploads/{upload_id}/abort", b"")
    wait_until(lambda: emu.stats.requests_by_route.get("abort") == 1)
    complete.send(half)

    status, body = complete.answer()
    assert status == 200 and body["file_name"] == "race.bin"
    status, body = abort.answer()
    assert (status, codes(body)) == (409, ["upload_already_completed"])
    assert emu.uploads[upload_id].state == "completed"
    download = api(emu, "GET", "/files/download/race.bin")
    assert download.status_code == 200 and download.content == DATA


def test_an_abort_waiting_for_a_refused_complete_then_aborts_cleanly(emu):
    upload_id, tokens = uploaded(emu, "refused.bin")
    complete = RawRequest(
        emu,
        "POST",
        f"/files/uploads/{upload_id}/complete",
        json.dumps({"parts": tokens[:1]}).encode(),  # a part missing: refused as sent
    )
    half = len(complete.body) // 2
    complete.send(0, half)
    wait_until(lambda: emu.uploads[upload_id].completing)

    abort = RawRequest(emu, "POST", f"/files/uploads/{upload_id}/abort", b"")
    wait_until(lambda: emu.stats.requests_by_route.get("abort") == 1)
    complete.send(half)

    status, body = complete.answer()
    assert (status, codes(body)) == (400, ["missing_parts"])
    status, _ = abort.answer()
    assert status == 200
    assert emu.uploads[upload_id].state == "aborted"
    assert not (emu.data_dir / "parts" / upload_id).exists()
    assert api(emu, "GET", "/files/metadata/refused.bin").status_code == 404


def test_a_complete_after_an_abort_is_404_and_publishes_nothing(emu):
    upload_id, tokens = uploaded(emu, "gone.bin")
    assert api(emu, "POST", f"/files/uploads/{upload_id}/abort", {}).status_code == 200
    response = api(emu, "POST", f"/files/uploads/{upload_id}/complete", {"parts": tokens})
    assert (response.status_code, codes(response.json())) == (404, ["upload_not_found"])
    assert api(emu, "GET", "/files/metadata/gone.bin").status_code == 404
