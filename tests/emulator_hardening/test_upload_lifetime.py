"""Abandoned uploads are collected: an upload left without a call for its documented
lifetime expires, its stored bytes are deleted, and every call on it answers the spec's
"gone" error. Time comes from a hand-moved clock, never from sleeping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from atai_fs.emulator import ATAIEmulator
from atai_fs.emulator._shared.scratch import MARKER_NAME
from atai_fs.emulator.aionvision import AionVisionEmulator
from atai_fs.emulator.sandbox import SandboxEmulator
from tests.support.clock import ManualClock

LIFETIME = 600.0


def atai_call(emu: ATAIEmulator, path: str, body: Any) -> tuple[int, Any]:
    response = requests.post(
        f"{emu.endpoint_url}/files/uploads{path}",
        headers={"Authorization": f"Bearer {emu.api_key}"},
        json=body,
        timeout=30,
    )
    return response.status_code, (response.json() if response.content else None)


def stored_files(emu: ATAIEmulator) -> set[Path]:
    """The files the emulator's storage holds (its scratch marker aside)."""
    root = emu.data_dir / "parts"
    return {p for p in root.rglob("*") if p.is_file() and p.name != MARKER_NAME}


class Parts:
    """The stored files of one upload's parts: ``exists()`` while any is left."""

    def __init__(self, files: set[Path]) -> None:
        self.files = files

    def exists(self) -> bool:
        return any(p.exists() for p in self.files)


def initiate_with_a_part(emu: ATAIEmulator, name: str) -> tuple[str, Parts]:
    """An upload of two parts with its first part stored; its id and stored parts."""
    before = stored_files(emu)
    status, init = atai_call(
        emu,
        "/initiate",
        {"filename": name, "file_type": "application/octet-stream", "num_bytes": 2 * 1024},
    )
    assert status == 200
    first = init["parts"][0]
    assert requests.put(first["url"], data=b"x" * first["length"], timeout=30).status_code == 200
    parts = Parts(stored_files(emu) - before)
    assert parts.exists()
    return init["upload_id"], parts


def codes(body: Any) -> list[str]:
    return [error["code"] for error in body["errors"]]


def test_an_upload_left_past_its_lifetime_is_gone_on_every_route_and_its_parts_deleted():
    clock = ManualClock()
    with ATAIEmulator(part_size=1024, clock=clock, upload_lifetime=LIFETIME) as emu:
        upload_id, parts = initiate_with_a_part(emu, "left.bin")
        clock.now += LIFETIME
        for path, body in [
            ("/parts/urls", {"part_numbers": [1]}),
            ("/parts/checkpoint", {"parts": []}),
            ("/complete", {"parts": []}),
            ("/abort", {}),
        ]:
            status, answer = atai_call(emu, f"/{upload_id}{path}", body)
            assert (status, codes(answer)) == (404, ["upload_not_found"]), path
        assert emu.uploads[upload_id].state == "expired"
        assert not parts.exists()
        assert emu.orphans() == []


def test_an_upload_nobody_asks_about_is_collected_by_the_next_initiate():
    clock = ManualClock()
    with ATAIEmulator(part_size=1024, clock=clock, upload_lifetime=LIFETIME) as emu:
        upload_id, parts = initiate_with_a_part(emu, "crashed.bin")
        clock.now += LIFETIME
        initiate_with_a_part(emu, "next.bin")
        assert emu.uploads[upload_id].state == "expired"
        assert not parts.exists()


def test_calls_on_an_upload_keep_it_alive():
    clock = ManualClock()
    with ATAIEmulator(part_size=1024, clock=clock, upload_lifetime=LIFETIME) as emu:
        upload_id, parts = initiate_with_a_part(emu, "slow.bin")
        for _ in range(3):
            clock.now += LIFETIME - 1
            status, _ = atai_call(emu, f"/{upload_id}/parts/urls", {"part_numbers": [2]})
            assert status == 200
        assert emu.uploads[upload_id].state == "in_progress"
        assert all(p.exists() for p in parts.files)


def test_a_sandbox_session_past_its_lifetime_releases_its_staging_at_the_next_create():
    with SandboxEmulator(session_lifetime=0) as emu:
        auth = {"Authorization": f"Bearer {emu.api_key}"}

        def create(sandbox: str, target: str) -> dict[str, Any]:
            body = {
                "kind": "file",
                "source_kind": "restartable_file",
                "target_path": target,
                "content_length": 10,
                "conflict": "error",
                "checksum_algorithm": "sha256",
            }
            headers = {**auth, "Idempotency-Key": target}
            uploads = f"{emu.endpoint_url}/v1/sandboxes/{sandbox}/uploads"
            response = requests.post(uploads, headers=headers, json=body, timeout=30)
            assert response.status_code == 200, response.text
            return dict(response.json()["session"])

        abandoned = create("sb-1", "/workspace/a.bin")["upload_id"]
        staging = emu.data_dir / "staging" / abandoned
        assert staging.is_dir()
        create("sb-2", "/workspace/b.bin")  # another sandbox: nobody asks about sb-1
        assert not staging.exists()
        assert emu.sessions[abandoned].status == "expired"
        assert emu.sessions[abandoned].reserved_staging_bytes == 0


def test_an_aionvision_upload_never_confirmed_is_forgotten_and_its_bytes_deleted():
    clock = ManualClock()
    with AionVisionEmulator(clock=clock, reservation_lifetime=LIFETIME) as emu:
        auth = {"Authorization": f"Bearer {emu.api_key}"}

        def presign(name: str) -> dict[str, Any]:
            body = {"filename": name, "content_type": "image/png", "size_bytes": 5}
            response = requests.post(
                f"{emu.endpoint_url}/uploads/request-presigned-url",
                headers=auth,
                json=body,
                timeout=30,
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

        first = presign("a.png")
        stored = requests.put(
            first["upload_url"],
            data=b"\x89PNG\x00",
            headers=first["upload_headers"],
            timeout=30,
        )
        assert stored.status_code == 200
        objects = [
            p
            for p in (emu.data_dir / "storage").rglob("*")
            if p.is_file() and p.name != MARKER_NAME  # the emulator's own marker, kept
        ]
        assert objects
        clock.now += LIFETIME
        presign("b.png")
        assert all(not p.exists() for p in objects)
        confirm = requests.post(
            f"{emu.endpoint_url}/uploads/confirm",
            headers=auth,
            json={"object_key": first["object_key"], "size_bytes": 5},
            timeout=30,
        )
        assert confirm.status_code == 404
        assert confirm.json()["error"]["code"] == "NOT_FOUND"
