"""Each file takes the route its size calls for: stream up to the limit, presigned above."""

from __future__ import annotations

import os

import fsspec
import pytest

from atai_fs.emulator.aionvision import AionVisionEmulator
from tests.aionvision.conftest import LIMIT, local_file, make_fs, stored


class Boom(Exception):
    pass


def routes(emulator: AionVisionEmulator) -> dict[str, int]:
    return emulator.stats.requests_by_route


def test_put_file_streams_a_small_file_with_its_options(fs, emulator, tmp_path):
    path, data = local_file(tmp_path, "site.jpg", 1000)
    result = fs.put_file(path, "aionvision://inspections/site.jpg", tags=["inspection"], title="A")
    assert (result.status, result.method, result.name) == ("uploaded", "stream", "site.jpg")
    assert stored(emulator, result.image_id) == data
    view = emulator.files[result.image_id]
    assert (view.filename, view.title, view.tags) == ("site.jpg", "A", ("inspection",))
    assert routes(emulator) == {"stream_upload": 1}
    assert fs.last_results == [result]


@pytest.mark.parametrize(
    ("size", "method"),
    [(1, "stream"), (LIMIT - 1, "stream"), (LIMIT, "stream"), (LIMIT + 1, "presigned")],
    ids=["one-byte", "limit-minus-one", "at-limit", "limit-plus-one"],
)
def test_route_switches_at_the_streaming_limit(fs, emulator, tmp_path, size, method):
    path, data = local_file(tmp_path, "scan.pdf", size)
    result = fs.put_file(path, "aionvision://scan.pdf")
    assert result.method == method
    assert stored(emulator, result.image_id) == data
    if method == "presigned":
        assert routes(emulator) == {"request_presigned_url": 1, "storage_put": 1, "confirm": 1}
        assert emulator.files[result.image_id].upload_method == "PRESIGNED"
    else:
        assert routes(emulator) == {"stream_upload": 1}


def test_presigned_upload_is_confirmed_with_size_and_checksum_and_leaves_no_orphan(
    fs, emulator, tmp_path
):
    path, data = local_file(tmp_path, "big.png", 3 * LIMIT + 5)
    result = fs.put_file(path, "aionvision://big.png")
    # The emulator refuses a PUT without the signed Content-Type and a confirm whose
    # checksum does not match the stored bytes, so success shows both were right.
    assert result.status == "uploaded" and stored(emulator, result.image_id) == data
    assert emulator.orphans() == []


def test_pipe_file_uploads_bytes(fs, emulator):
    result = fs.pipe_file("aionvision://notes.md", b"# notes\n")
    assert stored(emulator, result.image_id) == b"# notes\n"


@pytest.mark.parametrize("size", [10, LIMIT, LIMIT + 1, 3 * LIMIT], ids=str)
def test_open_for_writing_spools_and_picks_the_route_by_final_size(fs, emulator, size):
    data = os.urandom(size)
    with fs.open("aionvision://report.pdf", "wb") as f:
        for start in range(0, size, 10_007):
            f.write(data[start : start + 10_007])
    (result,) = fs.last_results
    assert result.method == ("stream" if size <= LIMIT else "presigned")
    assert stored(emulator, result.image_id) == data


def test_open_with_a_size_still_chooses_the_route_at_close(fs, emulator):
    with fs.open("aionvision://a.txt", "wb", size=5) as f:
        f.write(b"hello")
    assert fs.last_results[0].method == "stream"


def test_exception_in_with_block_sends_nothing(fs, emulator):
    with pytest.raises(Boom), fs.open("aionvision://half.pdf", "wb") as f:
        f.write(os.urandom(3 * LIMIT))
        raise Boom
    assert emulator.stats.api_requests == 0
    assert emulator.files == {}


def test_fsspec_open_finds_the_protocol_through_the_entry_point(emulator):
    with fsspec.open(
        "aionvision://report.pdf",
        "wb",
        api_key=emulator.api_key,
        endpoint_url=emulator.endpoint_url,
        rate_limit="off",
        skip_instance_cache=True,
    ) as f:
        f.write(b"%PDF-1.4 test")
    (view,) = emulator.files.values()
    assert (view.filename, view.read_bytes()) == ("report.pdf", b"%PDF-1.4 test")


def test_key_and_endpoint_come_from_the_environment(aionvision_emulator):
    fs = fsspec.filesystem("aionvision", skip_instance_cache=True)
    assert fs.pipe_file("aionvision://env.txt", b"from env").status == "uploaded"


def test_stream_refused_as_too_large_by_the_server_falls_back_to_presigned(emulator, tmp_path):
    fs = make_fs(emulator, stream_limit=4 * LIMIT)  # the client believes in a larger limit
    path, data = local_file(tmp_path, "photo.webp", 2 * LIMIT)
    result = fs.put_file(path, "aionvision://photo.webp")
    assert result.method == "presigned" and stored(emulator, result.image_id) == data
    assert routes(emulator)["stream_upload"] == 1


def test_streaming_disabled_falls_back_to_presigned(tmp_path):
    with AionVisionEmulator(data_dir=tmp_path / "emulator", streaming_enabled=False) as emulator:
        result = make_fs(emulator).pipe_file("aionvision://a.gif", b"GIF89a....")
        assert result.method == "presigned"
        assert stored(emulator, result.image_id) == b"GIF89a...."
