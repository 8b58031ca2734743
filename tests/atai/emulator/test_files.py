"""Files plane: spec sections 4.1-4.7 and open points 18-23."""

from __future__ import annotations

import base64
import os

import aiohttp
import pytest

from atai_fs.emulator import ATAIEmulator


def form(filename: str, data: bytes, content_type: str | None = None, field: str = "file"):
    body = aiohttp.FormData()
    body.add_field(field, data, filename=filename, content_type=content_type)
    return body


# -- auth and errors -----------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "x"}])
async def test_missing_or_wrong_api_key_is_401_unauthorized(open_api, headers):
    async with open_api() as api:
        status, body = await api.call("GET", "files/info", auth=False, headers=headers)
    assert status == 401
    [error] = body["errors"]
    assert error["code"] == "UNAUTHORIZED"
    assert error["message"] and error["suggestion"]
    assert error["error_uid"].startswith("err-")


async def test_unknown_api_path_gets_the_error_envelope(open_api):
    async with open_api() as api:
        status, body = await api.call("GET", "files/nothing-here")
    assert status == 404
    assert api.codes(body) == ["NOT_FOUND"]


@pytest.mark.parametrize("route", ["metadata", "download"])
async def test_unknown_file_is_404_file_not_found(open_api, route):
    async with open_api() as api:
        status, body = await api.call("GET", f"files/{route}/nope.csv")
    assert status == 404
    assert api.codes(body) == ["file_not_found"]


# -- simple upload --------------------------------------------------------------------------
async def test_simple_upload_stores_the_first_file_part_whatever_its_field(open_api):
    async with open_api() as api:
        body = aiohttp.FormData()
        body.add_field("note", "not a file")
        body.add_field("upload", b"a,b\n1,2\n", filename="simple.csv", content_type="text/csv")
        result = await api.ok("POST", "files", data=body)
        meta = await api.ok("GET", "files/metadata/simple.csv")
        assert await api.download("simple.csv") == b"a,b\n1,2\n"
    assert result["is_valid"] is True
    assert result["file_id"] == "simple.csv"
    assert result["file_uid"] == meta["file_uid"]
    assert (meta["file_type"], meta["num_bytes"]) == ("text/csv", 8)


async def test_simple_upload_type_falls_back_to_the_extension(open_api):
    async with open_api() as api:
        await api.ok("POST", "files", data=form("pic.png", b"png", "application/octet-stream"))
        meta = await api.ok("GET", "files/metadata/pic.png")
    assert meta["file_type"] == "image/png"


async def test_simple_upload_over_the_limit_is_413(make_emulator, open_api):
    emulator = make_emulator(simple_upload_limit=1000)
    async with open_api(emulator) as api:
        status, body = await api.call("POST", "files", data=form("big.csv", b"x" * 1001))
        assert status == 413
        assert api.codes(body) == ["invalid_file_size"]
        assert await api.ok("POST", "files", data=form("ok.csv", b"x" * 1000))


async def test_simple_upload_without_file_part_is_400(open_api):
    async with open_api() as api:
        body = aiohttp.FormData(default_to_multipart=True)
        body.add_field("note", "no file")
        status, err = await api.call("POST", "files", data=body)
    assert status == 400
    assert api.codes(err) == ["missing_parameter"]


async def test_base64_upload_stores_the_decoded_bytes(open_api):
    data = os.urandom(3 * 1024 * 1024 + 1)
    encoded = base64.encodebytes(data)  # with newlines, as base64 tools write it
    async with open_api() as api:
        await api.ok("POST", "files/base64", data=form("b64.csv", encoded, "text/csv"))
        assert await api.download("b64.csv") == data


async def test_simple_upload_overwrites_same_name(open_api):
    async with open_api() as api:
        first = await api.ok("POST", "files", data=form("over.csv", b"one"))
        second = await api.ok("POST", "files", data=form("over.csv", b"two!"))
        assert await api.download("over.csv") == b"two!"
        info = await api.ok("GET", "files/info")
    assert first["file_uid"] != second["file_uid"]
    assert (info["num_files"], info["num_bytes"]) == (1, 4)


# -- names ------------------------------------------------------------------------------------
NAMES = [
    "dir/sub/file.csv",
    "with space and %25 and %2F.csv",
    "question?hash#amp&plus+.csv",
    "unicodé/naïve.csv",
    "a/../b.csv",
]


@pytest.mark.parametrize("name", NAMES)
async def test_names_with_slashes_and_special_characters_round_trip(open_api, name):
    async with open_api() as api:
        done = await api.upload(name, b"payload")
        assert done["file_name"] == name
        path = api.encoded(name)
        meta = await api.ok("GET", f"files/metadata/{path}")
        assert meta["file_id"] == name
        assert await api.download(name) == b"payload"
        listed = await api.ok("GET", "files/metadata", params={"limit": "10"})
        assert [m["file_id"] for m in listed["data"]] == [name]
        deleted = await api.ok("DELETE", f"files/delete/{path}")
        assert deleted == {"is_valid": True, "file_id": name, "file_uid": meta["file_uid"]}


async def test_raw_slashes_in_path_parameters_work_like_the_official_sdk_sends(open_api):
    async with open_api() as api:
        await api.upload("raw/dir/file.csv", b"raw")
        meta = await api.ok("GET", "files/metadata/raw/dir/file.csv")
        assert meta["file_id"] == "raw/dir/file.csv"
        assert await api.ok("GET", "files/download/raw/dir/file.csv") == b"raw"


@pytest.mark.parametrize("name", ["", "nul\x00.csv", "x" * 1025, 7])
async def test_invalid_names_are_400(open_api, name):
    async with open_api() as api:
        status, body = await api.call(
            "POST",
            "files/uploads/initiate",
            json={"filename": name, "file_type": "text/csv", "num_bytes": 1},
        )
    assert status == 400
    assert api.codes(body) == ["invalid_parameter"]


# -- metadata, info, delete ------------------------------------------------------------------
async def test_metadata_object_has_every_spec_field(open_api):
    async with open_api() as api:
        done = await api.upload("meta.csv", b"12345")
        meta = await api.ok("GET", "files/metadata/meta.csv")
    assert meta == {
        "file_id": "meta.csv",
        "file_uid": done["file_uid"],
        "is_valid": True,
        "file_type": "text/csv",
        "num_bytes": 5,
        "file_status": "FILE_STATUS_INGESTED",
        "ingested": True,
        "file_index": 0,
        "file_tags": {},
        "file_attributes": {"metadata_status": "not_extracted"},
    }


async def test_info_totals_and_delete(open_api):
    async with open_api() as api:
        await api.upload("a.csv", b"aaa")
        await api.upload("b.csv", b"bbbbb")
        info = await api.ok("GET", "files/info")
        assert (info["num_files"], info["num_bytes"], info["num_ingested"]) == (2, 8, 2)
        assert isinstance(info["last_updated"], float)
        await api.ok("DELETE", "files/delete/a.csv")
        assert (await api.call("GET", "files/download/a.csv"))[0] == 404
        assert (await api.call("DELETE", "files/delete/a.csv"))[0] == 404
        info = await api.ok("GET", "files/info")
    assert (info["num_files"], info["num_bytes"]) == (1, 5)


async def seed(api, count: int) -> list[str]:
    """``count`` files, oldest first."""
    names = [f"f{i:02d}.csv" for i in range(count)]
    for name in names:
        await api.ok("POST", "files", data=form(name, name.encode()))
    return names


async def test_cursor_listing_pages_newest_first_forward_and_back(open_api):
    async with open_api() as api:
        names = await seed(api, 7)
        newest_first = names[::-1]
        pages, after = [], None
        while True:
            params = {"limit": "3", **({"after": after} if after else {})}
            page = await api.ok("GET", "files/metadata", params=params)
            pages.append(page)
            after = page["next_cursor"]
            assert page["has_more"] is (after is not None)
            if not page["has_more"]:
                break
        assert [[m["file_id"] for m in p["data"]] for p in pages] == [
            newest_first[0:3],
            newest_first[3:6],
            newest_first[6:7],
        ]
        assert pages[0]["prev_cursor"] is None
        back = await api.ok(
            "GET", "files/metadata", params={"limit": "3", "before": pages[2]["prev_cursor"]}
        )
        assert [m["file_id"] for m in back["data"]] == newest_first[3:6]


async def test_cursor_listing_default_limit_and_file_type_filter(open_api):
    async with open_api() as api:
        await seed(api, 3)
        await api.ok("POST", "files", data=form("notes.txt", b"t", "text/plain"))
        page = await api.ok("GET", "files/metadata", params={"after": ""})  # empty = absent
        assert len(page["data"]) == 4
        only = await api.ok(
            "GET", "files/metadata", params={"limit": "5", "file_type": "text/plain"}
        )
        assert [m["file_id"] for m in only["data"]] == ["notes.txt"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "x"},
        {"after": "bogus!"},
        {"after": "djE6MQ", "before": "djE6MQ"},
    ],
)
async def test_cursor_listing_rejects_bad_parameters(open_api, params):
    async with open_api() as api:
        status, body = await api.call("GET", "files/metadata", params=params)
    assert status == 400
    assert api.codes(body)[0] in {"invalid_parameter", "invalid_cursor"}


async def test_shard_listing_is_a_bare_array_in_file_index_order(open_api):
    async with open_api() as api:
        names = await seed(api, 5)
        everything = await api.ok("GET", "files/metadata")
        shard = await api.ok(
            "GET", "files/metadata", params={"shard_index": "1", "max_items_per_shard": "2"}
        )
        past_end = await api.ok(
            "GET", "files/metadata", params={"shard_index": "9", "max_items_per_shard": "2"}
        )
    assert [m["file_id"] for m in everything] == names
    assert [m["file_index"] for m in everything] == list(range(5))
    assert [m["file_id"] for m in shard] == names[2:4]
    assert past_end == []


# -- download ---------------------------------------------------------------------------------
DATA = bytes(range(256)) * 4  # 1024 bytes


async def get_with_range(api, header: str) -> tuple[aiohttp.ClientResponse, bytes]:
    """Upload DATA as range.bin and GET it with ``Range: header``."""
    await api.upload("range.bin", DATA)
    headers = {**api.auth, "Range": header}
    async with api.session.get(api.url("files/download/range.bin"), headers=headers) as r:
        return r, await r.read()


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=100-199", 100, 200),
        ("bytes=1000-", 1000, 1024),
        ("bytes=1000-5000", 1000, 1024),
        ("bytes=-24", 1000, 1024),
        ("bytes=-5000", 0, 1024),
    ],
)
async def test_download_single_range_is_206(open_api, header, start, end):
    async with open_api() as api:
        r, body = await get_with_range(api, header)
    assert r.status == 206
    assert body == DATA[start:end]
    assert r.headers["Content-Range"] == f"bytes {start}-{end - 1}/1024"
    assert r.headers["Content-Length"] == str(end - start)


@pytest.mark.parametrize("header", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
async def test_download_unsatisfiable_range_is_416(open_api, header):
    async with open_api() as api:
        r, _ = await get_with_range(api, header)
    assert r.status == 416
    assert r.headers["Content-Range"] == "bytes */1024"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=9-1"])
async def test_download_ignores_multi_or_malformed_ranges(open_api, header):
    async with open_api() as api:
        r, body = await get_with_range(api, header)
    assert r.status == 200
    assert body == DATA


async def test_download_is_octet_stream_with_length(emulator, open_api):
    async with open_api() as api:
        await api.upload("plain.bin", DATA)
        async with api.session.get(api.url("files/download/plain.bin"), headers=api.auth) as r:
            body = await r.read()
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Length"] == "1024"
    assert body == DATA
    assert emulator.stats.bytes_served == 1024


# -- persistence ------------------------------------------------------------------------------
async def test_files_persist_across_emulator_restart_on_same_data_dir(tmp_path, open_api):
    data_dir = tmp_path / "persist"
    first = ATAIEmulator(data_dir=data_dir, part_size=1024).start()
    try:
        async with open_api(first) as api:
            await api.upload("keep/me.csv", DATA)
            await api.ok("POST", "files", data=form("also.csv", b"also"))
            before = await api.ok("GET", "files/metadata")
    finally:
        first.stop()
    assert data_dir.is_dir()
    with ATAIEmulator(data_dir=data_dir) as second:
        async with open_api(second) as api:
            assert await api.ok("GET", "files/metadata") == before
            assert await api.download("keep/me.csv") == DATA
            await api.ok("POST", "files", data=form("new.csv", b"n"))
            page = await api.ok("GET", "files/metadata", params={"limit": "1"})
    assert page["data"][0]["file_id"] == "new.csv"


async def test_max_page_size_caps_cursor_pages(make_emulator, open_api):
    emulator = make_emulator(max_page_size=2)
    async with open_api(emulator) as api:
        for name in ("a", "b", "c", "d", "e"):
            await api.ok("POST", "files", data=form(f"{name}.csv", b"x"))
        names, params, pages = [], {"limit": "100"}, 0
        while True:
            page = await api.ok("GET", "files/metadata", params=params)
            pages += 1
            names += [f["file_id"] for f in page["data"]]
            if not page["has_more"]:
                break
            params = {"limit": "100", "after": page["next_cursor"]}
    assert pages == 3
    assert names == ["e.csv", "d.csv", "c.csv", "b.csv", "a.csv"]
