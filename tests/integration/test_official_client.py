"""atai_fs and the official archetypeai client interoperate through the emulator."""

from __future__ import annotations

import os

import pytest
from archetypeai import ArchetypeAI

from atai_fs import ATAIFileSystem
from atai_fs.emulator import ATAIEmulator

PART = 256 * 1024


@pytest.fixture
def emulator(tmp_path_factory):
    with ATAIEmulator(data_dir=tmp_path_factory.mktemp("emu"), part_size=PART) as emu:
        yield emu


@pytest.fixture
def client(emulator) -> ArchetypeAI:
    return ArchetypeAI(emulator.api_key, api_endpoint=emulator.endpoint_url)


@pytest.fixture
def fs(emulator) -> ATAIFileSystem:
    return ATAIFileSystem(
        api_key=emulator.api_key, endpoint_url=emulator.endpoint_url, skip_instance_cache=True
    )


@pytest.mark.parametrize("size", [0, 1, PART, 5 * PART + 17])
def test_official_direct_upload_reads_back_through_atai_fs(client, fs, tmp_path, size):
    data = os.urandom(size)
    local = tmp_path / "sensor.csv"
    local.write_bytes(data)
    result = client.files.local.upload(str(local), use_proxy=False)
    assert result["file_id"] == "sensor.csv"
    assert fs.cat_file("atai://sensor.csv") == data
    assert fs.info("atai://sensor.csv")["size"] == size


@pytest.mark.parametrize("size", [0, 1, PART, 5 * PART + 17])
def test_atai_fs_upload_downloads_through_the_official_client(client, fs, tmp_path, size):
    data = os.urandom(size)
    fs.pipe_file("atai://from-fsspec.csv", data)
    target = tmp_path / "downloaded.csv"
    assert client.files.local.download("from-fsspec.csv", str(target))
    assert target.read_bytes() == data


def test_both_clients_list_the_same_files(client, fs, tmp_path):
    (tmp_path / "a.csv").write_bytes(b"1,2\n")
    client.files.local.upload(str(tmp_path / "a.csv"), use_proxy=False)
    fs.pipe_file("atai://b.csv", b"3,4\n")
    sdk_names = {item["file_id"] for item in client.files.iter_metadata(limit=1)}
    assert sdk_names == set(fs.ls("atai://", detail=False)) == {"a.csv", "b.csv"}
