"""Bounded work per request: JSON bodies over ``max_json_body`` are refused 413 in each
API's error body, and ``parts/urls`` answers at most as many URLs as an upload can have
parts, however many duplicates it is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from atai_fs.emulator import ATAIEmulator
from atai_fs.emulator._shared.config import DEFAULT_MAX_JSON_BODY
from atai_fs.emulator._shared.server import BackgroundServer
from atai_fs.emulator.aionvision import AionVisionEmulator
from atai_fs.emulator.atai.config import MAX_PARTS
from atai_fs.emulator.flow import FlowEmulator
from atai_fs.emulator.sandbox import SandboxEmulator

LIMIT = 64 * 1024

JSON_ROUTES: dict[str, tuple[type[BackgroundServer[Any, Any]], str]] = {
    "atai": (ATAIEmulator, "/files/uploads/initiate"),
    "flow": (FlowEmulator, "/flow/test"),
    "sandbox": (SandboxEmulator, "/v1/sandboxes/sb-1/uploads"),
    "aionvision": (AionVisionEmulator, "/uploads/request-presigned-url"),
}


def refusal_of(api: str, response: requests.Response) -> str:
    """The code (or, for flow's plain-text errors, the text) of a 413 answer."""
    if api == "flow":
        return response.text
    body = response.json()
    if api == "atai":
        return str(body["errors"][0]["code"])
    if api == "sandbox":
        return str(body["code"])
    return str(body["error"]["code"])


EXPECTED = {
    "atai": "invalid_file_size",
    "flow": "http: request body too large\n",
    "sandbox": "invalid_request",
    "aionvision": "FILE_TOO_LARGE",
}
"""Each spec's wording of a body over the size limit."""


@pytest.mark.parametrize("api", sorted(JSON_ROUTES))
def test_a_json_body_over_max_json_body_is_413_in_the_apis_error_body(api):
    emulator_type, path = JSON_ROUTES[api]
    with emulator_type(max_json_body=LIMIT) as emu:
        headers = {"Content-Type": "application/json", "Idempotency-Key": "k"}
        if api != "flow":
            headers["Authorization"] = f"Bearer {emu.api_key}"
        padding = " " * LIMIT
        response = requests.post(
            emu.endpoint_url + path, data=f'{{"x": 1{padding}}}', headers=headers, timeout=30
        )
        assert response.status_code == 413
        assert refusal_of(api, response) == EXPECTED[api]


def test_json_bodies_are_bounded_by_default():
    """1 MiB, and 2 MiB on the Files API, whose complete of 10,000 parts is ~1 MB."""
    limits = {api: kind().config.max_json_body for api, (kind, _) in JSON_ROUTES.items()}
    assert limits == {
        "atai": 2 * DEFAULT_MAX_JSON_BODY,
        "flow": DEFAULT_MAX_JSON_BODY,
        "sandbox": DEFAULT_MAX_JSON_BODY,
        "aionvision": DEFAULT_MAX_JSON_BODY,
    }


@pytest.fixture
def upload() -> Iterator[tuple[ATAIEmulator, str]]:
    with ATAIEmulator(part_size=1024) as emu:
        response = requests.post(
            f"{emu.endpoint_url}/files/uploads/initiate",
            headers={"Authorization": f"Bearer {emu.api_key}"},
            json={"filename": "a.bin", "file_type": "application/octet-stream", "num_bytes": 4096},
            timeout=30,
        )
        yield emu, response.json()["upload_id"]


def part_urls(emu: ATAIEmulator, upload_id: str, numbers: list[int]) -> requests.Response:
    return requests.post(
        f"{emu.endpoint_url}/files/uploads/{upload_id}/parts/urls",
        headers={"Authorization": f"Bearer {emu.api_key}"},
        json={"part_numbers": numbers},
        timeout=30,
    )


def test_parts_urls_with_more_numbers_than_an_upload_can_have_parts_is_400(upload):
    emu, upload_id = upload
    response = part_urls(emu, upload_id, [1] * (MAX_PARTS + 1))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_parameter"


def test_duplicates_in_parts_urls_share_one_url_up_to_the_bound(upload):
    emu, upload_id = upload
    response = part_urls(emu, upload_id, [1] * MAX_PARTS)
    assert response.status_code == 200
    parts = response.json()["parts"]
    assert len(parts) == MAX_PARTS
    assert len({part["url"] for part in parts}) == 1
