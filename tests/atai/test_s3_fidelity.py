"""With default options, every write mode publishes byte-identical files on real S3
semantics: the emulator on moto's S3 (S3 judging the client's tokens and part sizes at
complete), and the same behind a front whose part ETags are random 32-hex strings,
never the MD5 (as S3 answers for SSE-KMS/SSE-C buckets)."""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
import pytest

from atai_fs.emulator import ATAIEmulator
from tests.atai.test_write_modes import WRITERS
from tests.conftest import S3_BUCKET, download, make_fs
from tests.sizes import S3_PART_SIZE, S3_SIZES

STORAGES = ["moto", "opaque-etags"]


@pytest.fixture(params=STORAGES)
def s3_emulator(request: pytest.FixtureRequest) -> ATAIEmulator:
    name = "s3_atai_emulator" if request.param == "moto" else "opaque_s3_atai_emulator"
    return request.getfixturevalue(name)


def s3_object(moto_endpoint: str, emulator: ATAIEmulator, name: str) -> bytes:
    """The published file's bytes as S3 itself holds them (not through the emulator)."""
    s3: Any = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=emulator.config.s3_prefix)
    [key] = [o["Key"] for o in listed.get("Contents", [])]
    return bytes(s3.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read())


def no_open_s3_uploads(moto_endpoint: str, emulator: ATAIEmulator) -> bool:
    s3: Any = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    listed = s3.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=emulator.config.s3_prefix)
    return not listed.get("Uploads")


@pytest.mark.parametrize("size", S3_SIZES.values(), ids=S3_SIZES.keys())
@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_every_write_mode_publishes_exact_bytes_on_s3(
    s3_emulator, moto_endpoint, writer, size, tmp_path
):
    data = os.urandom(size)
    writer(make_fs(s3_emulator), "atai://dir/file.bin", data, tmp_path)
    assert download(s3_emulator, "dir/file.bin") == data
    assert s3_object(moto_endpoint, s3_emulator, "dir/file.bin") == data
    assert s3_emulator.orphans() == []
    assert no_open_s3_uploads(moto_endpoint, s3_emulator)


@pytest.mark.parametrize("rows", [10, 400_000], ids=["one-request", "multipart"])
def test_pandas_to_parquet_round_trips_on_s3(s3_emulator, rows):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    # Random text, so the Parquet file spans several 5 MiB parts when it is big.
    frame = pd.DataFrame({"n": range(rows), "text": [os.urandom(8).hex() for _ in range(rows)]})
    options = {"api_key": s3_emulator.api_key, "endpoint_url": s3_emulator.endpoint_url}
    frame.to_parquet("atai://frame.parquet", storage_options=options)
    if rows > 10:
        assert [u.num_parts > 1 for u in s3_emulator.uploads.values()] == [True]
    back = pd.read_parquet("atai://frame.parquet", storage_options=options)
    pd.testing.assert_frame_equal(back, frame)


def test_opaque_etags_cost_one_warning_and_at_most_one_resend_per_part(
    opaque_s3_atai_emulator, opaque_front, caplog
):
    _, front = opaque_front
    fs = make_fs(opaque_s3_atai_emulator)
    data = os.urandom(3 * S3_PART_SIZE + 1)
    with caplog.at_level(logging.WARNING, logger="atai_fs"):
        fs.pipe_file("first.bin", data)
        fs.pipe_file("second.bin", data)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not the MD5" in warnings[0].getMessage()
    assert front.part_puts <= 2 * 4 + 4  # 4 parts each, the first file's resent once at most
    assert download(opaque_s3_atai_emulator, "second.bin") == data


def test_md5_etags_on_s3_are_checked_without_a_word(s3_atai_emulator, caplog):
    fs = make_fs(s3_atai_emulator)
    with caplog.at_level(logging.WARNING, logger="atai_fs"):
        fs.pipe_file("checked.bin", os.urandom(2 * S3_PART_SIZE + 7))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert fs._etags.found_opaque is False


@pytest.mark.parametrize("storage", STORAGES)
def test_whole_file_crc32c_holds_on_s3(make_s3_emulator, opaque_front, storage):
    endpoint = opaque_front[0] if storage == "opaque-etags" else None
    emulator = make_s3_emulator(endpoint=endpoint, integrity_algorithm="crc32c")
    data = os.urandom(2 * S3_PART_SIZE + 11)
    with make_fs(emulator).open("crc.bin", "wb") as f:
        f.write(data)
    assert emulator.stats.checksums_verified == 1
    assert download(emulator, "crc.bin") == data


def test_an_exception_inside_with_leaves_nothing_on_s3(s3_atai_emulator, moto_endpoint):
    fs = make_fs(s3_atai_emulator)
    with pytest.raises(RuntimeError, match="boom"), fs.open("never.bin", "wb") as f:
        f.write(os.urandom(2 * S3_PART_SIZE))
        raise RuntimeError("boom")
    assert s3_atai_emulator.orphans() == []
    assert no_open_s3_uploads(moto_endpoint, s3_atai_emulator)
    assert not fs.exists("never.bin")
