"""The official ``archetypeai`` SDK, unmodified, against the emulator."""

from __future__ import annotations

import os

import pytest
import requests

from tests.sizes import PART_SIZE as PART

archetypeai = pytest.importorskip("archetypeai")


def test_official_client_direct_upload_download_and_metadata(emulator, tmp_path):
    source = tmp_path / "sensor.csv"
    data = os.urandom(5 * PART + 123)
    source.write_bytes(data)
    client = archetypeai.ArchetypeAI(emulator.api_key, api_endpoint=emulator.endpoint_url)

    result = client.files.local.upload(str(source), use_proxy=False)

    assert result["is_valid"] is True
    assert result["file_id"] == "sensor.csv"
    assert emulator.stats.part_puts == 6
    target = tmp_path / "back.csv"
    assert client.files.local.download("sensor.csv", str(target)) is True
    assert target.read_bytes() == data
    meta = client.files.get_metadata(file_id="sensor.csv")
    assert (meta["num_bytes"], meta["file_type"]) == (len(data), "text/csv")
    assert meta["file_uid"] == result["file_uid"]
    assert [m["file_id"] for m in client.files.iter_metadata(limit=2)] == ["sensor.csv"]


def test_official_client_proxy_upload_info_and_delete(emulator, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_bytes(b"hello")
    client = archetypeai.ArchetypeAI(emulator.api_key, api_endpoint=emulator.endpoint_url)

    assert client.files.local.upload(str(source))["file_id"] == "notes.txt"
    assert client.files.get_info()["num_files"] == 1
    assert client.files.local.delete("notes.txt")["is_valid"] is True
    assert client.files.get_info()["num_files"] == 0


def test_official_client_resumes_an_interrupted_upload(emulator, tmp_path):
    source = tmp_path / "resume.csv"
    data = os.urandom(3 * PART)
    source.write_bytes(data)
    auth = {"Authorization": f"Bearer {emulator.api_key}"}
    # A first session that uploaded and checkpointed part 1, then died.
    init = requests.post(
        f"{emulator.endpoint_url}/files/uploads/initiate",
        json={"filename": "resume.csv", "file_type": "text/csv", "num_bytes": len(data)},
        headers=auth,
    ).json()
    first = init["parts"][0]
    etag = requests.put(first["url"], data=data[: first["length"]]).headers["ETag"]
    requests.post(
        f"{emulator.endpoint_url}/files/uploads/{init['upload_id']}/parts/checkpoint",
        json={"parts": [{"part_number": first["part_number"], "part_token": etag}]},
        headers=auth,
    ).raise_for_status()
    client = archetypeai.ArchetypeAI(emulator.api_key, api_endpoint=emulator.endpoint_url)

    result = client.files.local.upload(str(source), use_proxy=False, allow_resume=True)

    assert result["file_uid"] == init["file_uid"]
    assert emulator.stats.part_puts == 3  # 1 before the "crash" + the 2 missing ones
    assert emulator.uploads[init["upload_id"]].state == "completed"
    target = tmp_path / "back.csv"
    assert client.files.local.download("resume.csv", str(target))
    assert target.read_bytes() == data


def test_official_client_gets_api_error_on_wrong_key(emulator):
    client = archetypeai.ArchetypeAI("wrong", api_endpoint=emulator.endpoint_url)
    with pytest.raises(archetypeai.ApiError):
        client.files.get_info()
