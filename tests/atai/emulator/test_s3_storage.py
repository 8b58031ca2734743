"""The emulator on real S3 storage (moto's S3 server): initiate opens an S3 multipart
upload and hands out SigV4 presigned ``UploadPart`` URLs, S3 judges the tokens and
part sizes at complete, abort and stop abort, downloads redirect to presigned GETs."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import boto3
import google_crc32c
import pytest

from atai_fs.emulator import ATAIEmulator
from tests.conftest import S3_BUCKET
from tests.sizes import S3_PART_SIZE as PART


@pytest.fixture
def s3(moto_endpoint: str, s3_atai_emulator: ATAIEmulator) -> Any:
    """A boto3 client on the same S3, to see what the emulator left there."""
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def emulator(s3_atai_emulator: ATAIEmulator) -> ATAIEmulator:
    return s3_atai_emulator


def prefix_of(emulator: ATAIEmulator) -> str:
    return str(emulator.config.s3_prefix)


def objects(s3: Any, emulator: ATAIEmulator) -> dict[str, dict[str, Any]]:
    listed = s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix_of(emulator))
    return {o["Key"]: o for o in listed.get("Contents", [])}


def open_s3_uploads(s3: Any, emulator: ATAIEmulator) -> list[str]:
    listed = s3.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=prefix_of(emulator))
    return [u["UploadId"] for u in listed.get("Uploads", [])]


@pytest.mark.parametrize("base", [0, 1])
@pytest.mark.parametrize("size", [0, 1, PART, PART + 1, 2 * PART + 5])
async def test_round_trip_through_s3(make_s3_emulator, open_api, s3, base, size):
    emulator = make_s3_emulator(part_number_base=base)
    data = os.urandom(size)
    async with open_api(emulator) as api:
        init = await api.initiate("round.parquet", size, "application/vnd.apache.parquet")
        assert [p["part_number"] for p in init["parts"]] == list(
            range(base, base + init["num_parts"])
        )
        done = await api.upload("round.parquet", data, "application/vnd.apache.parquet")
        assert await api.download("round.parquet") == data
    stored = objects(s3, emulator)
    [key] = [k for k in stored if k.endswith(done["file_uid"])]
    head = s3.head_object(Bucket=S3_BUCKET, Key=key)
    assert head["ContentLength"] == size
    assert head["ContentType"] == "application/vnd.apache.parquet"


async def test_part_urls_are_sigv4_presigned_upload_parts_at_the_s3_endpoint(
    emulator, open_api, moto_endpoint
):
    async with open_api() as api:
        init = await api.initiate("urls.csv", 2 * PART)
    for part in init["parts"]:
        url = urlsplit(part["url"])
        query = parse_qs(url.query)
        assert f"{url.scheme}://{url.netloc}" == moto_endpoint
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert "X-Amz-Signature" in query and "uploadId" in query
        assert query["partNumber"] == [str(part["part_number"])]


async def test_download_redirects_to_a_presigned_s3_get(emulator, open_api, moto_endpoint):
    async with open_api() as api:
        await api.upload("redirected.csv", b"a,b\n1,2\n")
        status, _ = await api.call("GET", "files/download/redirected.csv", allow_redirects=False)
        async with api.session.get(
            api.url("files/download/redirected.csv"), headers=api.auth, allow_redirects=False
        ) as r:
            location = r.headers["Location"]
    assert status == 307
    assert location.startswith(moto_endpoint + "/") and "X-Amz-Signature=" in location


async def test_s3_judges_the_tokens_at_complete_and_the_upload_stays_open(emulator, open_api, s3):
    data = os.urandom(PART + 10)
    async with open_api() as api:
        init = await api.initiate("judged.csv", len(data))
        tokens = [await api.put_part(p, data) for p in init["parts"]]
        forged = [dict(tokens[0], part_token='"' + "0" * 32 + '"'), tokens[1]]
        status, body = await api.complete(init["upload_id"], forged)
        assert status == 400
        assert api.codes(body) == ["invalid_part_token"]
        assert "InvalidPart" in body["errors"][0]["message"]
        assert open_s3_uploads(s3, emulator)  # still open, as the API says
        status, _ = await api.complete(init["upload_id"], tokens)
        assert status == 200
        assert await api.download("judged.csv") == data
    assert open_s3_uploads(s3, emulator) == []


async def test_s3_judges_part_sizes(emulator, open_api):
    """S3 presigned URLs do not bind the length: a short part but the last is refused by
    S3 itself at complete (``EntityTooSmall``)."""
    async with open_api() as api:
        init = await api.initiate("short.csv", PART + 10)
        first, last = init["parts"]
        short = await api.put(first["url"], b"x" * 1024)
        tokens = [
            {"part_number": first["part_number"], "part_token": short.headers["ETag"]},
            await api.put_part(last, os.urandom(PART + 10)),
        ]
        status, body = await api.complete(init["upload_id"], tokens)
    assert status == 400
    assert api.codes(body) == ["part_too_small"]
    assert "EntityTooSmall" in body["errors"][0]["message"]


async def test_checkpoint_compares_tokens_with_the_parts_s3_lists(emulator, open_api):
    data = os.urandom(2 * PART + 1)
    async with open_api() as api:
        init = await api.initiate("resumed.csv", len(data))
        first = await api.put_part(init["parts"][0], data)
        path = f"files/uploads/{init['upload_id']}/parts/checkpoint"
        wrong = dict(first, part_token='"' + "f" * 32 + '"')
        status, body = await api.call("POST", path, json={"parts": [wrong]})
        assert (status, api.codes(body)) == (400, ["invalid_part_token"])
        never = {"part_number": init["parts"][1]["part_number"], "part_token": '"x"'}
        status, body = await api.call("POST", path, json={"parts": [never]})
        assert (status, api.codes(body)) == (400, ["invalid_part_token"])
        assert await api.ok("POST", path, json={"parts": [first]}) == {"num_checkpointed": 1}

        again = await api.initiate("resumed.csv", len(data), resume_if_started=True)
        assert again["is_resume"] is True
        rest = [await api.put_part(p, data) for p in again["parts"]]
        assert len(rest) == 2
        status, _ = await api.complete(init["upload_id"], rest)
        assert status == 200
        assert await api.download("resumed.csv") == data


async def test_abort_aborts_the_s3_upload(emulator, open_api, s3):
    async with open_api() as api:
        init = await api.initiate("aborted.csv", PART + 1)
        await api.put_part(init["parts"][0], os.urandom(PART + 1))
        assert len(open_s3_uploads(s3, emulator)) == 1
        await api.ok("POST", f"files/uploads/{init['upload_id']}/abort")
    assert open_s3_uploads(s3, emulator) == []
    assert objects(s3, emulator) == {}


def test_stopping_the_emulator_aborts_the_s3_uploads_left_open(make_s3_emulator, s3):
    import asyncio

    emulator = make_s3_emulator()

    async def initiate() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{emulator.endpoint_url}/files/uploads/initiate",
                headers={"Authorization": f"Bearer {emulator.api_key}"},
                json={"filename": "left.csv", "file_type": "text/csv", "num_bytes": 3},
            ) as r,
        ):
            assert r.status == 200

    asyncio.run(initiate())
    assert len(open_s3_uploads(s3, emulator)) == 1
    emulator.stop()
    assert open_s3_uploads(s3, emulator) == []


async def test_whole_file_crc32c_is_computed_from_the_object_s3_holds(make_s3_emulator, open_api):
    emulator = make_s3_emulator(integrity_algorithm="crc32c")
    data = os.urandom(PART + 3)
    good = base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()
    bad = base64.b64encode((google_crc32c.value(data) ^ 1).to_bytes(4, "big")).decode()
    async with open_api(emulator) as api:
        for name, checksum, expected in (("good.csv", good, 200), ("bad.csv", bad, 400)):
            init = await api.initiate(name, len(data))
            tokens = [await api.put_part(p, data) for p in init["parts"]]
            status, body = await api.complete(
                init["upload_id"], tokens, integrity_checksum=checksum
            )
            assert status == expected, body
        meta = await api.ok("GET", "files/metadata/bad.csv")
    assert meta["file_status"] == "FILE_STATUS_CORRUPT"
    assert emulator.stats.checksums_verified == 1


async def test_simple_uploads_deletes_and_overwrites_keep_s3_tidy(emulator, open_api, s3):
    async with open_api() as api:
        form = aiohttp.FormData()
        form.add_field("file", b"x,y\n1,2\n", filename="file", content_type="text/csv")
        await api.ok("POST", "files", data=form)
        assert len(objects(s3, emulator)) == 1
        await api.upload("file", b"second")  # overwrites the simple upload
        assert len(objects(s3, emulator)) == 1
        assert await api.download("file") == b"second"
        await api.ok("DELETE", "files/delete/file")
    assert objects(s3, emulator) == {}


@pytest.mark.parametrize(
    "options, words",
    [
        ({}, "needs bucket"),
        ({"bucket": "b", "part_size": 1024}, r"part_size \(--part-size\) of at least 5242880"),
        ({"bucket": "b", "ignore_range": True}, "ignore_range"),
        ({"bucket": "b", "etag_style": "opaque"}, "etag_style"),
        ({"bucket": "b", "put_bandwidth": 1e6}, "put_bandwidth"),
        ({"bucket": "b", "faults": ["route=storage_put,status=503"]}, "faults on storage"),
    ],
)
def test_s3_storage_refuses_what_only_the_built_in_storage_can_do(options, words):
    with pytest.raises(ValueError, match=words):
        ATAIEmulator(storage="s3", **options)


def test_an_unreachable_s3_endpoint_fails_the_start_naming_the_bucket(monkeypatch, tmp_path):
    from tests.support.moto import CREDENTIALS

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    emulator = ATAIEmulator(
        data_dir=tmp_path,
        storage="s3",
        bucket="nowhere",
        s3_endpoint_url="http://127.0.0.1:9",
        part_size=PART,
    )
    with pytest.raises(ConnectionError, match=r"bucket 'nowhere' at http://127\.0\.0\.1:9"):
        emulator.start()


def test_cli_serves_on_s3_storage(moto_endpoint, tmp_path):
    """``atai-fs serve --storage s3://BUCKET/PREFIX --s3-endpoint URL`` in a real process."""
    from tests.support.moto import CREDENTIALS

    env = {**os.environ, **CREDENTIALS}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "atai_fs.cli",
            "serve",
            "--port",
            "0",
            "--storage",
            f"s3://{S3_BUCKET}/cli-test",
            "--s3-endpoint",
            moto_endpoint,
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, (line, process.stderr and process.stderr.read())
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_cli_refuses_a_storage_that_is_not_local_or_s3_as_a_usage_error():
    from atai_fs.cli import main

    assert main(["serve", "--storage", "gs://bucket"]) == 2
